// A bar chart in SVG with its figures as text: a summary for screen readers and a table a click
// away. Colours come from classes in styles.css (no style attributes under the page CSP). The SVG
// stretches to its box (preserveAspectRatio none), which is right for bars but distorts text, so
// the axis labels are HTML under it.
import { useId } from 'react'

export interface Bar {
  /** The label under the bar and in the table (a day, a month). */
  label: string
  value: number
}

export function BarChart(props: {
  title: string
  bars: Bar[]
  /** A horizontal line, e.g. the plan's daily limit. */
  limit?: number | null
  limitLabel?: string
  /** Said instead of the limit when it is 0 (nothing allowed, e.g. without a plan): no line is drawn. */
  noLimit?: string
  /** Said instead of the highest value when every value is 0. */
  allZero?: string
  unit: string
  /** How to print a value (money, a count). */
  format?: (value: number) => string
}) {
  const id = useId()
  const format = props.format ?? ((value: number) => String(value))
  const { bars } = props
  // A limit of 0 is not a line to reach: every day would "reach" it.
  const limit = props.limit === 0 && props.noLimit ? null : (props.limit ?? null)
  const top = Math.max(1, limit ?? 0, ...bars.map((bar) => bar.value))
  const width = 600
  const height = 180
  const pad = { left: 8, right: 8, top: 10, bottom: 2 }
  const plotHeight = height - pad.top - pad.bottom
  const slot = (width - pad.left - pad.right) / Math.max(1, bars.length)
  const y = (value: number) => pad.top + plotHeight - (value / top) * plotHeight
  const over = limit === null ? 0 : bars.filter((bar) => bar.value >= limit).length
  const highest = bars.reduce(
    (best, bar) => (bar.value > best.value ? bar : best),
    bars[0] ?? { label: '', value: 0 },
  )
  const peak =
    highest.value === 0 && props.allZero
      ? props.allZero
      : `highest ${format(highest.value)} ${props.unit} on ${highest.label}`
  const summary =
    bars.length === 0
      ? `${props.title}: no data.`
      : `${props.title}: ${bars.length} points from ${bars[0]?.label} to ${bars.at(-1)?.label}; ${peak}` +
        (limit !== null
          ? `; ${props.limitLabel ?? 'limit'} ${format(limit)}, reached on ${over} of them.`
          : props.limit === 0 && props.noLimit
            ? `; ${props.noLimit}.`
            : '.')
  // The first, middle and last labels, spread under the plot (the table has them all).
  const ticks = [...new Set([0, Math.floor((bars.length - 1) / 2), bars.length - 1])]
    .filter((index) => index >= 0)
    .map((index) => bars[index]?.label.slice(5) ?? '')
  return (
    <figure className="chart" aria-labelledby={`${id}-caption`}>
      <figcaption id={`${id}-caption`}>{props.title}</figcaption>
      <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-label={summary} preserveAspectRatio="none">
        {bars.map((bar, index) => (
          <rect
            key={bar.label}
            className={limit !== null && bar.value >= limit ? 'bar bar-full' : 'bar'}
            x={pad.left + index * slot + slot * 0.15}
            width={slot * 0.7}
            y={y(bar.value)}
            height={Math.max(0, pad.top + plotHeight - y(bar.value))}
          />
        ))}
        {limit !== null && (
          <line className="limit" x1={pad.left} x2={width - pad.right} y1={y(limit)} y2={y(limit)} />
        )}
      </svg>
      {ticks.length > 0 && (
        <div className="chart-axis" aria-hidden="true">
          {ticks.map((tick) => (
            <span key={tick}>{tick}</span>
          ))}
        </div>
      )}
      <p className="hint">{summary}</p>
      <details>
        <summary>Show the figures</summary>
        <table>
          <thead>
            <tr>
              <th scope="col">Period</th>
              <th scope="col">{props.unit}</th>
            </tr>
          </thead>
          <tbody>
            {bars.map((bar) => (
              <tr key={bar.label}>
                <td>{bar.label}</td>
                <td>{format(bar.value)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </figure>
  )
}
