// Pricing as code: the plans as a YAML file (what `plangate plans pull` writes and `plans diff` /
// `plans push` read), checked with the API's own schemas, and the difference between a file and
// the plans a server has, as the list of API calls that would make the server match the file.
// Pure functions: the CLI does the reading, writing and HTTP around them.
import { createHash } from 'node:crypto'
import { Document, isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml'
import { z } from 'zod'
import { CreatePlanBody, type Plan, type UpdatePlanBody } from './schemas.ts'

/** One plan of a file: the create body (defaults filled in) and whether it should be active. */
export const FilePlan = CreatePlanBody.extend({
  active: z.boolean().default(true).describe('false: the plan is retired (kept for its subscribers).'),
}).strict()
export type FilePlan = z.infer<typeof FilePlan>

export const PlanFile = z.object({ plans: z.array(FilePlan) }).strict()

/** A problem in a file, where it is: `file:line:col: message`. */
export interface FileProblem {
  line: number
  col: number
  message: string
}

export const formatProblem = (file: string, problem: FileProblem) =>
  `${file}:${problem.line}:${problem.col}: ${problem.message}`

const header = [
  ' plangate plans: edit, then `plangate plans diff <file>` and `plangate plans push <file>`.',
  ' limits: a number, null = unlimited; a feature missing from limits is not included.',
  ' A retired plan has `active: false` (its subscribers keep it; new subscriptions are refused).',
].join('\n')

/** Plans in the order files list them: by tier, then code, so a pulled file diffs cleanly. */
const byTierThenCode = (a: { tier: number; code: string }, b: { tier: number; code: string }) =>
  a.tier - b.tier || (a.code < b.code ? -1 : a.code > b.code ? 1 : 0)

/** The YAML of `plans` (as the API answers them), retired ones marked `active: false`. */
export function plansToYaml(plans: readonly Plan[]): string {
  const entries = [...plans].sort(byTierThenCode).map((plan) => ({
    code: plan.code,
    name: plan.name,
    description: plan.description,
    price_cents: plan.price_cents,
    currency: plan.currency,
    interval: plan.interval,
    tier: plan.tier,
    trial_days: plan.trial_days,
    limits: sortedRecord(plan.limits),
    features: sortedRecord(plan.features),
    ...(!plan.is_active && { active: false }),
  }))
  const doc = new Document({ plans: entries })
  doc.commentBefore = header
  return doc.toString({ lineWidth: 0 })
}

const sortedRecord = <V>(record: Record<string, V>): Record<string, V> =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

/** A file's plans, or every problem found in it (YAML syntax, schema, duplicate codes), located. */
export type ParsedPlanFile = { ok: true; plans: FilePlan[] } | { ok: false; problems: FileProblem[] }

/** Reads a plan file with the same rules the API applies to a plan (CreatePlanBody). */
export function parsePlanFile(text: string): ParsedPlanFile {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const at = (offset: number) => lineCounter.linePos(offset)
  if (doc.errors.length > 0) {
    return {
      ok: false,
      problems: doc.errors.map((error) => ({
        ...at(error.pos[0]),
        message: `YAML: ${error.message.split('\n')[0]}`,
      })),
    }
  }
  const parsed = PlanFile.safeParse(doc.toJS())
  if (!parsed.success) {
    const problems = parsed.error.issues.flatMap((issue): FileProblem[] => {
      const path = issue.path.filter((segment) => typeof segment !== 'symbol')
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((key) => ({
          ...at(offsetOf(doc.contents, [...path, key], 'key')),
          message: `${pathText([...path, key])}: unknown field`,
        }))
      }
      const missing = /received undefined$/.test(issue.message)
      return [
        {
          ...at(offsetOf(doc.contents, path, 'value')),
          message: `${pathText(path) || 'file'}: ${missing ? 'required' : issue.message}`,
        },
      ]
    })
    return { ok: false, problems: problems.sort((a, b) => a.line - b.line || a.col - b.col) }
  }
  const firstLine = new Map<string, number>()
  const problems: FileProblem[] = []
  parsed.data.plans.forEach((plan, index) => {
    const position = at(offsetOf(doc.contents, ['plans', index, 'code'], 'value'))
    const first = firstLine.get(plan.code)
    if (first === undefined) firstLine.set(plan.code, position.line)
    else
      problems.push({
        ...position,
        message: `plans[${index}].code: duplicate code ${plan.code} (first on line ${first})`,
      })
  })
  return problems.length > 0 ? { ok: false, problems } : { ok: true, plans: parsed.data.plans }
}

const pathText = (path: readonly (string | number)[]) =>
  path
    .map((segment, i) => (typeof segment === 'number' ? `[${segment}]` : i === 0 ? segment : `.${segment}`))
    .join('')

/**
 * Where a path of the parsed value is in the text: the deepest node on the path that exists (a
 * missing field is reported at the object that lacks it); `key` points at a map entry's key.
 */
function offsetOf(root: unknown, path: readonly PropertyKey[], point: 'key' | 'value'): number {
  let node = root as Node | null
  let offset = node?.range?.[0] ?? 0
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment))
      if (!pair) break
      const key = pair.key as Node
      const value = pair.value as Node | null
      offset = point === 'key' || !value?.range ? (key.range?.[0] ?? offset) : value.range[0]
      node = value
    } else if (isSeq(node)) {
      const item = node.items[Number(segment)] as Node | undefined
      if (!item?.range) break
      offset = item.range[0]
      node = item
    } else break
  }
  return offset
}

/** One field's change, as `limits.staff 2 → 3`. */
export interface FieldChange {
  field: string
  from: unknown
  to: unknown
}

/**
 * What pushing a file does to one plan, as API calls: `create` (POST, then DELETE when the file
 * has it retired), `update` (PATCH of the changed fields only), `retire` (PATCH of changed fields
 * if any, then DELETE), `reactivate` (one PATCH with `is_active: true`), `leave` (on the server
 * but not in the file, and no `--prune`: nothing is sent).
 */
export type PlanChange =
  | { action: 'create'; code: string; body: CreatePlanBody; retired: boolean }
  | {
      action: 'update' | 'retire' | 'reactivate'
      code: string
      fields: FieldChange[]
      patch: UpdatePlanBody
      pruned?: boolean
    }
  | { action: 'leave'; code: string }

const scalarFields = [
  'name',
  'description',
  'price_cents',
  'currency',
  'interval',
  'tier',
  'trial_days',
] as const
const priceFields = new Set(['price_cents', 'currency', 'interval'])

function recordChanges<V>(name: string, from: Record<string, V>, to: Record<string, V>): FieldChange[] {
  const keys = [...new Set([...Object.keys(from), ...Object.keys(to)])].sort()
  return keys
    .filter((key) => !(key in from && key in to && from[key] === to[key]))
    .map((key) => ({
      field: `${name}.${key}`,
      from: key in from ? from[key] : absent,
      to: key in to ? to[key] : absent,
    }))
}

/** A limit or feature that is not in the plan (as opposed to null, unlimited). */
export const absent: unique symbol = Symbol('absent')

/** The changed fields of a plan and the PATCH body that makes them so (limits/features whole). */
function fieldChanges(current: Plan, wanted: FilePlan): { fields: FieldChange[]; patch: UpdatePlanBody } {
  const fields: FieldChange[] = []
  const patch: UpdatePlanBody = {}
  for (const field of scalarFields) {
    if (current[field] !== wanted[field]) {
      fields.push({ field, from: current[field], to: wanted[field] })
      Object.assign(patch, { [field]: wanted[field] })
    }
  }
  const limits = recordChanges('limits', current.limits, wanted.limits)
  if (limits.length > 0) patch.limits = wanted.limits
  const features = recordChanges('features', current.features, wanted.features)
  if (features.length > 0) patch.features = wanted.features
  return { fields: [...fields, ...limits, ...features], patch }
}

/**
 * The changes that make the server's plans (`current`, retired ones included) match the file, in
 * the file's order, then the plans only the server has (retired with `prune`, else left alone).
 */
export function diffPlans(
  wanted: readonly FilePlan[],
  current: readonly Plan[],
  options: { prune: boolean },
): PlanChange[] {
  const byCode = new Map(current.map((plan) => [plan.code, plan]))
  const changes: PlanChange[] = []
  for (const plan of wanted) {
    const { active, ...body } = plan
    const existing = byCode.get(plan.code)
    if (!existing) {
      changes.push({ action: 'create', code: plan.code, body, retired: !active })
      continue
    }
    const { fields, patch } = fieldChanges(existing, plan)
    if (existing.is_active && !active) changes.push({ action: 'retire', code: plan.code, fields, patch })
    else if (!existing.is_active && active)
      changes.push({ action: 'reactivate', code: plan.code, fields, patch: { ...patch, is_active: true } })
    else if (fields.length > 0) changes.push({ action: 'update', code: plan.code, fields, patch })
  }
  const inFile = new Set(wanted.map((plan) => plan.code))
  for (const plan of [...current].sort(byTierThenCode)) {
    if (inFile.has(plan.code) || !plan.is_active) continue
    changes.push(
      options.prune
        ? { action: 'retire', code: plan.code, fields: [], patch: {}, pruned: true }
        : { action: 'leave', code: plan.code },
    )
  }
  return changes
}

/** Whether a change sends anything (a plan left alone does not). */
export const isWrite = (change: PlanChange) => change.action !== 'leave'

const show = (value: unknown): string =>
  value === absent
    ? '(none)'
    : value === null
      ? 'unlimited'
      : typeof value === 'string'
        ? JSON.stringify(value)
        : String(value)

const priceNote =
  'new price for new subscribers; current subscribers keep theirs; with Stripe, a new Stripe Price and the old one archived'

/** The lines that describe a change: a headline, then one indented line per changed field. */
export function describeChange(change: PlanChange): string[] {
  if (change.action === 'leave')
    return [`  leave ${change.code}: on the server but not in the file (--prune retires it)`]
  if (change.action === 'create') {
    const { body } = change
    return [
      `+ create ${change.code}: ${JSON.stringify(body.name)}, ${body.price_cents} ${body.currency} a ${body.interval}, tier ${body.tier}${change.retired ? ', then retire it (active: false)' : ''}`,
      ...recordChanges('limits', {}, body.limits).map((field) => `    ${field.field} ${show(field.to)}`),
      ...recordChanges('features', {}, body.features).map((field) => `    ${field.field} ${show(field.to)}`),
    ]
  }
  const headline = {
    update: `~ update ${change.code}`,
    retire: `- retire ${change.code}${change.pruned ? ': not in the file (--prune)' : ''}: subscribers keep it, new subscriptions are refused`,
    reactivate: `^ reactivate ${change.code}: new subscriptions are accepted again`,
  }[change.action]
  return [
    headline,
    ...change.fields.map((field) => `    ${field.field} ${show(field.from)} → ${show(field.to)}`),
    ...(change.fields.some((field) => priceFields.has(field.field)) ? [`    note: ${priceNote}`] : []),
  ]
}

/** One line for a change once applied, e.g. `updated basic: price_cents 1900 → 2400`. */
export function appliedLine(change: Exclude<PlanChange, { action: 'leave' }>): string {
  if (change.action === 'create') return `created ${change.code}${change.retired ? ' (retired)' : ''}`
  const fields = change.fields.map((field) => `${field.field} ${show(field.from)} → ${show(field.to)}`)
  const verb = { update: 'updated', retire: 'retired', reactivate: 'reactivated' }[change.action]
  const price = change.fields.some((field) => priceFields.has(field.field)) ? ` (${priceNote})` : ''
  return `${verb} ${change.code}${fields.length > 0 ? `: ${fields.join(', ')}` : ''}${price}`
}

/**
 * The Idempotency-Key of a plan's creation by a push: the same file creating the same plan sends
 * the same key, so a retried or repeated push never creates twice.
 */
export const createIdempotencyKey = (fileText: string, code: string): string =>
  `plangate-push-${createHash('sha256').update(fileText).update('\0').update(code).digest('hex').slice(0, 40)}`
