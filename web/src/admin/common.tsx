// What the dashboard's pages share: pages of a list that follow `next_cursor`, an action's
// busy/error/done state, status badges and short JSON.
import { useId } from 'react'
import { Badge } from '../ui/Meter.tsx'

export { type Paged, type PageOf, Pager, useAction, usePaged } from '../ui/lists.tsx'

const tones: Record<string, 'good' | 'warn' | 'bad' | 'neutral'> = {
  active: 'good',
  trialing: 'good',
  paid: 'good',
  delivered: 'good',
  completed: 'good',
  applied: 'good',
  past_due: 'warn',
  canceled: 'warn',
  open: 'warn',
  pending: 'warn',
  retry: 'warn',
  retired: 'warn',
  expired: 'bad',
  failed: 'bad',
  revoked: 'bad',
}

export function StatusBadge({ status }: { status: string }) {
  return <Badge tone={tones[status] ?? 'neutral'}>{status.replaceAll('_', ' ')}</Badge>
}

/** A value as one line of JSON, for audit data and job payloads. */
export function Json({ value }: { value: unknown }) {
  const text = value === undefined || value === null ? '—' : JSON.stringify(value)
  return <code className="json">{text === '{}' ? '—' : text}</code>
}

/** An option list for a filter: the first, empty, option means "any". */
export function FilterSelect(props: {
  label: string
  value: string
  onChange: (value: string) => void
  options: readonly string[]
  any?: string
}) {
  const id = useId()
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      <select id={id} value={props.value} onChange={(event) => props.onChange(event.target.value)}>
        <option value="">{props.any ?? 'Any'}</option>
        {props.options.map((option) => (
          <option key={option} value={option}>
            {option.replaceAll('_', ' ')}
          </option>
        ))}
      </select>
    </div>
  )
}
