// A usage meter: "2 of 5 staff", as text first and a bar for the eye. Over the limit (after a
// downgrade) is said in words, not only in colour.
import { useId } from 'react'

export function Meter(props: {
  label: string
  used: number
  limit: number | null
  unit: string
  note?: string
}) {
  const id = useId()
  const { used, limit } = props
  const over = limit !== null && used > limit
  const full = limit !== null && used >= limit
  const fraction = limit === null ? 0 : limit === 0 ? 1 : Math.min(1, used / limit)
  const text = limit === null ? `${used} ${props.unit}, unlimited` : `${used} of ${limit} ${props.unit}`
  return (
    <div className={`meter${over ? ' meter-over' : full ? ' meter-full' : ''}`}>
      <div className="meter-head">
        <span id={id} className="meter-label">
          {props.label}
        </span>
        <span className="meter-figure">{text}</span>
      </div>
      {limit !== null && (
        <progress aria-labelledby={id} max={1000} value={Math.round(fraction * 1000)}>
          {text}
        </progress>
      )}
      {over && (
        <p className="meter-note">
          Over the limit of your plan by {used - limit}: adding more is refused until you are back under it or
          upgrade.
        </p>
      )}
      {!over && full && <p className="meter-note">The limit is reached.</p>}
      {props.note && <p className="hint">{props.note}</p>}
    </div>
  )
}

export function Badge({ tone, children }: { tone: 'good' | 'warn' | 'bad' | 'neutral'; children: string }) {
  return <span className={`badge badge-${tone}`}>{children}</span>
}
