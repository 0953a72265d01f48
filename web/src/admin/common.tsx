// What the dashboard's pages share: pages of a list that follow `next_cursor`, an action's
// busy/error/done state, status badges and short JSON.
import { useId, useState } from 'react'
import { messageOf } from '../lib/session.ts'
import { type Loaded, useLoad } from '../lib/useLoad.ts'
import { Button } from '../ui/kit.tsx'
import { Badge } from '../ui/Meter.tsx'

export interface PageOf<T> {
  data: T[]
  next_cursor: string | null
}

export type Paged<T> = Loaded<PageOf<T>> & {
  /** Null on the first page. */
  cursor: string | null
  next: () => void
  first: () => void
}

/**
 * A list read a page at a time: `load` gets the cursor (undefined for the first page) and runs
 * again when `key` (the filters) changes, which starts over at the first page.
 */
export function usePaged<T>(
  load: (cursor: string | undefined) => Promise<PageOf<T>>,
  key: readonly unknown[],
): Paged<T> {
  const keyText = JSON.stringify(key)
  const [position, setPosition] = useState<{ key: string; cursor: string | null }>({
    key: keyText,
    cursor: null,
  })
  const cursor = position.key === keyText ? position.cursor : null
  const loaded = useLoad(() => load(cursor ?? undefined), [keyText, cursor])
  return {
    ...loaded,
    cursor,
    next: () => {
      const next = loaded.data?.next_cursor
      if (next) setPosition({ key: keyText, cursor: next })
    },
    first: () => setPosition({ key: keyText, cursor: null }),
  }
}

/** "Next page" when there is one, and a way back to the first. */
export function Pager<T>({ paged, label }: { paged: Paged<T>; label: string }) {
  if (!paged.data?.next_cursor && paged.cursor === null) return null
  return (
    <nav className="actions" aria-label={`Pages of ${label}`}>
      {paged.cursor !== null && (
        <Button type="button" kind="secondary" onClick={paged.first}>
          First page
        </Button>
      )}
      {paged.data?.next_cursor && (
        <Button type="button" kind="secondary" onClick={paged.next}>
          Next page
        </Button>
      )}
    </nav>
  )
}

/** An action's state: busy while it runs, then its error or what it did. */
export function useAction() {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [done, setDone] = useState<string | null>(null)
  const run = async (action: () => Promise<string | null>) => {
    setBusy(true)
    setError(null)
    setDone(null)
    try {
      setDone(await action())
    } catch (caught) {
      setError(messageOf(caught))
    } finally {
      setBusy(false)
    }
  }
  return { busy, error, done, run }
}

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
