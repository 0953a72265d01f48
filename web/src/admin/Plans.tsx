// Plans: every plan, retired ones included; create one, edit its price, limits and features, retire
// it or bring it back. An edit is confirmed before it is saved, saying what it does to the people
// already subscribed (a price change: subscribers keep theirs; limits: at once).
import { type components, unwrap } from '@plangate/sdk'
import { type FormEvent, useState } from 'react'
import { featureName, money } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { Button, Field, Notice, useFocusWhileOpen } from '../ui/kit.tsx'
import { StatusBadge, useAction } from './common.tsx'

type Plan = components['schemas']['Plan']
type Interval = Plan['interval']
type PlanFields = {
  name: string
  description: string
  price_cents: number
  currency: string
  interval: Interval
  tier: number
  trial_days: number
  limits: Record<string, number | null>
  features: Record<string, boolean>
}

interface Draft {
  code: string
  name: string
  description: string
  price: string
  currency: string
  interval: Interval
  tier: string
  trialDays: string
  limits: { key: string; value: string; unlimited: boolean }[]
  features: { key: string; on: boolean }[]
}

const draftOf = (plan: Plan | null): Draft => ({
  code: plan?.code ?? '',
  name: plan?.name ?? '',
  description: plan?.description ?? '',
  price: plan ? (plan.price_cents / 100).toFixed(2) : '',
  currency: plan?.currency ?? 'usd',
  interval: plan?.interval ?? 'month',
  tier: String(plan?.tier ?? 0),
  trialDays: String(plan?.trial_days ?? 0),
  limits: Object.entries(plan?.limits ?? {}).map(([key, limit]) => ({
    key,
    value: limit === null ? '' : String(limit),
    unlimited: limit === null,
  })),
  features: Object.entries(plan?.features ?? {}).map(([key, on]) => ({ key, on })),
})

const wholeNumber = (text: string, what: string): number => {
  const n = Number(text)
  if (text.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new Error(`${what} must be a whole number, 0 or more.`)
  return n
}

/** The draft as the API's fields; throws a sentence saying what to fix. */
function fieldsOf(draft: Draft): PlanFields {
  const price = Number(draft.price)
  if (draft.price.trim() === '' || !Number.isFinite(price) || price < 0)
    throw new Error('The price must be an amount such as 19.00.')
  const limits: Record<string, number | null> = {}
  for (const row of draft.limits) {
    const key = row.key.trim()
    if (!key) throw new Error('Every limit needs a feature key.')
    if (key in limits) throw new Error(`The limit ${key} is there twice.`)
    limits[key] = row.unlimited ? null : wholeNumber(row.value, `The limit of ${key}`)
  }
  const features: Record<string, boolean> = {}
  for (const row of draft.features) {
    const key = row.key.trim()
    if (!key) throw new Error('Every feature needs a key.')
    if (key in features) throw new Error(`The feature ${key} is there twice.`)
    features[key] = row.on
  }
  return {
    name: draft.name.trim(),
    description: draft.description,
    price_cents: Math.round(price * 100),
    currency: draft.currency.trim().toLowerCase(),
    interval: draft.interval,
    tier: wholeNumber(draft.tier, 'The tier'),
    trial_days: wholeNumber(draft.trialDays, 'The trial days'),
    limits,
    features,
  }
}

/** The fields an edit changes (an update touches only the fields it names). */
function changesOf(plan: Plan, fields: PlanFields): Partial<PlanFields> {
  const changes: Partial<PlanFields> = {}
  for (const key of Object.keys(fields) as (keyof PlanFields)[]) {
    if (JSON.stringify(fields[key]) !== JSON.stringify(plan[key]))
      Object.assign(changes, { [key]: fields[key] })
  }
  return changes
}

function limitsText(limits: Record<string, number | null>): string {
  const parts = Object.entries(limits).map(
    ([key, limit]) => `${featureName(key)}: ${limit === null ? 'unlimited' : limit}`,
  )
  return parts.join(', ') || 'none'
}

function featuresText(features: Record<string, boolean>): string {
  const parts = Object.entries(features).map(([key, on]) => `${featureName(key)} ${on ? 'on' : 'off'}`)
  return parts.join(', ') || 'none'
}

export function AdminPlans() {
  const plans = useLoad(
    async () => unwrap(await api.GET('/v1/plans', { params: { query: { include_inactive: 'true' } } })).data,
    [],
  )
  const [editing, setEditing] = useState<Plan | 'new' | null>(null)
  const action = useAction()

  const retire = (plan: Plan) =>
    action.run(async () => {
      unwrap(await api.DELETE('/v1/plans/{code}', { params: { path: { code: plan.code } } }))
      await plans.reload()
      return `${plan.name} is retired: its subscribers keep it, new subscriptions to it are refused.`
    })
  const bringBack = (plan: Plan) =>
    action.run(async () => {
      unwrap(
        await api.PATCH('/v1/plans/{code}', {
          params: { path: { code: plan.code } },
          body: { is_active: true },
        }),
      )
      await plans.reload()
      return `${plan.name} is offered again.`
    })
  const saved = async (message: string) => {
    setEditing(null)
    await plans.reload()
    await action.run(async () => message)
  }

  return (
    <>
      <div className="row">
        <h2>Plans</h2>
        {editing === null && (
          <Button type="button" kind="secondary" onClick={() => setEditing('new')}>
            New plan
          </Button>
        )}
      </div>
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.done && <Notice kind="success">{action.done}</Notice>}
      {plans.error && <Notice kind="error">{plans.error}</Notice>}
      {editing !== null && (
        <PlanEditor
          key={editing === 'new' ? 'new' : editing.code}
          plan={editing === 'new' ? null : editing}
          onSaved={(message) => void saved(message)}
          onCancel={() => setEditing(null)}
        />
      )}
      {plans.data && (
        <table>
          <thead>
            <tr>
              <th scope="col">Plan</th>
              <th scope="col">Price</th>
              <th scope="col">Limits</th>
              <th scope="col">Features</th>
              <th scope="col">Status</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {plans.data.map((plan) => (
              <tr key={plan.code}>
                <td>
                  {plan.name} <code className="muted">{plan.code}</code>
                </td>
                <td>
                  {money(plan.price_cents, plan.currency)} <span className="muted">a {plan.interval}</span>
                  {plan.trial_days > 0 && <span className="muted"> · {plan.trial_days}-day trial</span>}
                </td>
                <td>{limitsText(plan.limits)}</td>
                <td>{featuresText(plan.features)}</td>
                <td>
                  <StatusBadge status={plan.is_active ? 'active' : 'retired'} />
                </td>
                <td>
                  <div className="actions">
                    <Button type="button" kind="secondary" onClick={() => setEditing(plan)}>
                      Edit <span className="visually-hidden">{plan.name}</span>
                    </Button>
                    {plan.is_active ? (
                      <Button
                        type="button"
                        kind="secondary"
                        busy={action.busy}
                        onClick={() => void retire(plan)}
                      >
                        Retire <span className="visually-hidden">{plan.name}</span>
                      </Button>
                    ) : (
                      <Button
                        type="button"
                        kind="secondary"
                        busy={action.busy}
                        onClick={() => void bringBack(plan)}
                      >
                        Bring back <span className="visually-hidden">{plan.name}</span>
                      </Button>
                    )}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  )
}

function PlanEditor(props: { plan: Plan | null; onSaved: (message: string) => void; onCancel: () => void }) {
  const { plan } = props
  const [draft, setDraft] = useState<Draft>(() => draftOf(plan))
  const [pending, setPending] = useState<Partial<PlanFields> | null>(null)
  const action = useAction()
  const set = (patch: Partial<Draft>) => {
    setPending(null)
    setDraft((current) => ({ ...current, ...patch }))
  }
  const setLimit = (index: number, patch: Partial<Draft['limits'][number]>) =>
    set({ limits: draft.limits.map((row, i) => (i === index ? { ...row, ...patch } : row)) })
  const setFeature = (index: number, patch: Partial<Draft['features'][number]>) =>
    set({ features: draft.features.map((row, i) => (i === index ? { ...row, ...patch } : row)) })

  const save = (changes: Partial<PlanFields>) =>
    action.run(async () => {
      if (!plan) return null
      unwrap(await api.PATCH('/v1/plans/{code}', { params: { path: { code: plan.code } }, body: changes }))
      props.onSaved(`${changes.name ?? plan.name} saved.`)
      return null
    })

  const submit = (event: FormEvent) => {
    event.preventDefault()
    void action.run(async () => {
      const fields = fieldsOf(draft)
      if (!plan) {
        const created = unwrap(await api.POST('/v1/plans', { body: { code: draft.code.trim(), ...fields } }))
        props.onSaved(`${created.name} created.`)
        return null
      }
      const changes = changesOf(plan, fields)
      if (Object.keys(changes).length === 0) return 'Nothing to save: nothing changed.'
      setPending(changes)
      return null
    })
  }

  const title = plan ? `Edit ${plan.name}` : 'New plan'
  return (
    <section className="card" aria-labelledby="plan-editor">
      <h3 id="plan-editor">{title}</h3>
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.done && <Notice kind="info">{action.done}</Notice>}
      <form onSubmit={submit} aria-labelledby="plan-editor">
        {plan ? (
          <p>
            Code <code>{plan.code}</code> <span className="muted">(a plan's code does not change)</span>
          </p>
        ) : (
          <Field
            label="Code"
            name="code"
            value={draft.code}
            onChange={(code) => set({ code })}
            required
            hint="Lowercase letters, digits, - and _; it cannot be changed later."
          />
        )}
        <Field label="Name" name="name" value={draft.name} onChange={(name) => set({ name })} required />
        <Field
          label="Description"
          name="description"
          value={draft.description}
          onChange={(description) => set({ description })}
        />
        <div className="inline-form">
          <Field
            label="Price"
            name="price"
            value={draft.price}
            onChange={(price) => set({ price })}
            inputMode="text"
            required
            hint="An amount in the currency, such as 19.00."
          />
          <Field
            label="Currency"
            name="currency"
            value={draft.currency}
            onChange={(currency) => set({ currency })}
            required
          />
          <div className="field">
            <label htmlFor="plan-interval">Billed every</label>
            <select
              id="plan-interval"
              value={draft.interval}
              onChange={(event) => set({ interval: event.target.value as Interval })}
            >
              <option value="month">month</option>
              <option value="year">year</option>
            </select>
          </div>
          <Field
            label="Tier"
            name="tier"
            type="number"
            value={draft.tier}
            onChange={(tier) => set({ tier })}
            hint="Higher is an upgrade."
          />
          <Field
            label="Trial days"
            name="trial_days"
            type="number"
            value={draft.trialDays}
            onChange={(trialDays) => set({ trialDays })}
          />
        </div>

        <fieldset>
          <legend>Limits</legend>
          <p className="hint">A feature without a row is not included; unlimited has no number.</p>
          {draft.limits.map((row, index) => {
            const name = row.key || `row ${index + 1}`
            return (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows have no id of their own while their key is typed
              <div className="limit-row" key={index}>
                <div className="field">
                  <label htmlFor={`limit-key-${index}`}>
                    Key<span className="visually-hidden"> of limit {index + 1}</span>
                  </label>
                  <input
                    id={`limit-key-${index}`}
                    value={row.key}
                    onChange={(event) => setLimit(index, { key: event.target.value })}
                  />
                </div>
                <div className="field">
                  <label htmlFor={`limit-value-${index}`}>
                    Limit<span className="visually-hidden"> of {name}</span>
                  </label>
                  <input
                    id={`limit-value-${index}`}
                    type="number"
                    min={0}
                    value={row.unlimited ? '' : row.value}
                    disabled={row.unlimited}
                    onChange={(event) => setLimit(index, { value: event.target.value })}
                  />
                </div>
                <label className="check">
                  <input
                    type="checkbox"
                    checked={row.unlimited}
                    onChange={(event) => setLimit(index, { unlimited: event.target.checked })}
                  />
                  Unlimited<span className="visually-hidden"> {name}</span>
                </label>
                <Button
                  type="button"
                  kind="secondary"
                  onClick={() => set({ limits: draft.limits.filter((_, i) => i !== index) })}
                >
                  Remove <span className="visually-hidden">the limit of {name}</span>
                </Button>
              </div>
            )
          })}
          <Button
            type="button"
            kind="secondary"
            onClick={() => set({ limits: [...draft.limits, { key: '', value: '0', unlimited: false }] })}
          >
            Add a limit
          </Button>
        </fieldset>

        <fieldset>
          <legend>Features</legend>
          {draft.features.map((row, index) => {
            const name = row.key || `row ${index + 1}`
            return (
              // biome-ignore lint/suspicious/noArrayIndexKey: rows have no id of their own while their key is typed
              <div className="limit-row" key={index}>
                <div className="field">
                  <label htmlFor={`feature-key-${index}`}>
                    Key<span className="visually-hidden"> of feature {index + 1}</span>
                  </label>
                  <input
                    id={`feature-key-${index}`}
                    value={row.key}
                    onChange={(event) => setFeature(index, { key: event.target.value })}
                  />
                </div>
                <label className="check">
                  <input
                    type="checkbox"
                    checked={row.on}
                    onChange={(event) => setFeature(index, { on: event.target.checked })}
                  />
                  On<span className="visually-hidden"> ({name})</span>
                </label>
                <Button
                  type="button"
                  kind="secondary"
                  onClick={() => set({ features: draft.features.filter((_, i) => i !== index) })}
                >
                  Remove <span className="visually-hidden">the feature {name}</span>
                </Button>
              </div>
            )
          })}
          <Button
            type="button"
            kind="secondary"
            onClick={() => set({ features: [...draft.features, { key: '', on: true }] })}
          >
            Add a feature
          </Button>
        </fieldset>

        <div className="actions">
          <Button busy={action.busy}>{plan ? 'Review the changes' : 'Create the plan'}</Button>
          <Button type="button" kind="secondary" onClick={props.onCancel}>
            Cancel
          </Button>
        </div>
      </form>
      {plan && pending && (
        <ConfirmChanges
          plan={plan}
          changes={pending}
          busy={action.busy}
          onConfirm={() => void save(pending)}
          onBack={() => setPending(null)}
        />
      )}
    </section>
  )
}

function ConfirmChanges(props: {
  plan: Plan
  changes: Partial<PlanFields>
  busy: boolean
  onConfirm: () => void
  onBack: () => void
}) {
  const { plan, changes } = props
  const priceChanged =
    changes.price_cents !== undefined || changes.currency !== undefined || changes.interval !== undefined
  const newPrice = money(changes.price_cents ?? plan.price_cents, changes.currency ?? plan.currency)
  const newInterval = changes.interval ?? plan.interval
  const heading = useFocusWhileOpen<HTMLHeadingElement>()
  return (
    <section className="preview confirm" aria-labelledby="confirm-plan">
      <h4 id="confirm-plan" ref={heading} tabIndex={-1}>
        Confirm the changes to {plan.name}
      </h4>
      <ul>
        {priceChanged && (
          <li>
            Price: {money(plan.price_cents, plan.currency)} a {plan.interval} → {newPrice} a {newInterval}.{' '}
            <strong>
              Existing subscribers keep their price and interval; new subscriptions pay {newPrice} a{' '}
              {newInterval}.
            </strong>{' '}
            A subscriber who moves to {plan.name} from another plan pays the new price.
          </li>
        )}
        {changes.limits && (
          <li>
            Limits: {limitsText(plan.limits)} → {limitsText(changes.limits)}. Limits apply to current
            subscribers at once: a lower limit leaves accounts over it, and nothing is deleted.
          </li>
        )}
        {changes.features && (
          <li>
            Features: {featuresText(plan.features)} → {featuresText(changes.features)}.
          </li>
        )}
        {changes.name !== undefined && <li>Name: {changes.name}.</li>}
        {changes.description !== undefined && <li>New description.</li>}
        {changes.tier !== undefined && <li>Tier: {changes.tier}.</li>}
        {changes.trial_days !== undefined && <li>Trial: {changes.trial_days} days for new customers.</li>}
      </ul>
      <div className="actions">
        <Button type="button" busy={props.busy} onClick={props.onConfirm}>
          Confirm: save {plan.name}
        </Button>
        <Button type="button" kind="secondary" onClick={props.onBack}>
          Back to the form
        </Button>
      </div>
    </section>
  )
}
