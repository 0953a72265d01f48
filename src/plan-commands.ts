// `plangate plans pull | diff | push`: pricing as code, through the HTTP API with the SDK (never
// the database), so they work against any running plangate with a site key that has plans:write.
// The file format and the diff are plain functions in modules/plans/file.ts; this file does the
// reading, writing and calls, and turns what goes wrong into one line and an exit status.
import { readFileSync, writeFileSync } from 'node:fs'
// The SDK's sources, not the package: the CLI runs from source with tsx, and the package's entry
// point is its build (packages/sdk/dist), which a checkout does not have until it is built.
import { createPlangate, type Plangate, PlangateError, unwrap } from '../packages/sdk/src/index.ts'
import { CommandError } from './core/startup.ts'
import {
  appliedLine,
  createIdempotencyKey,
  describeChange,
  diffPlans,
  formatProblem,
  isWrite,
  type PlanChange,
  parsePlanFile,
  plansToYaml,
} from './modules/plans/file.ts'
import type { Plan } from './modules/plans/schemas.ts'

/** Exit status of `plans diff --exit-code` when the server differs from the file. */
export const driftExitCode = 3

export interface ApiSettings {
  PLANGATE_URL?: string | undefined
  PLANGATE_API_KEY?: string | undefined
}

interface Output {
  out: (text: string) => void
}

/** The client of PLANGATE_URL with PLANGATE_API_KEY; exit 2 naming whichever is missing. */
export function apiClient(env: ApiSettings, fetch?: typeof globalThis.fetch): Plangate {
  const missing = (['PLANGATE_URL', 'PLANGATE_API_KEY'] as const).filter((name) => !env[name])
  if (missing.length > 0)
    throw new CommandError(
      `${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} not set: plans commands call the API at PLANGATE_URL with a site API key that has plans:write`,
      2,
    )
  let url: URL
  try {
    url = new URL(env.PLANGATE_URL ?? '')
  } catch {
    throw new CommandError(`PLANGATE_URL: not a URL: ${env.PLANGATE_URL}`, 2)
  }
  return createPlangate({
    baseUrl: url.origin + url.pathname.replace(/\/+$/, ''),
    apiKey: env.PLANGATE_API_KEY,
    ...(fetch && { fetch }),
  })
}

/** The error of a failed call as one line: the key refused, the scope missing, or the problem's code and detail. */
function apiFailure(what: string, error: unknown): CommandError {
  if (error instanceof PlangateError) {
    const detail = error.problem.detail || error.problem.title
    if (error.status === 401)
      return new CommandError(
        `${what}: the key was refused (${error.code}: ${detail}); check PLANGATE_API_KEY`,
        1,
      )
    return new CommandError(`${what}: ${error.status} ${error.code}: ${detail}`, 1)
  }
  const cause =
    error instanceof Error
      ? error.cause instanceof Error
        ? error.cause.message
        : error.message
      : String(error)
  return new CommandError(`${what}: could not reach PLANGATE_URL (${cause})`, 1)
}

/** Every plan on the server, retired ones included (needs plans:write). */
async function serverPlans(api: Plangate): Promise<Plan[]> {
  try {
    return unwrap(await api.GET('/v1/plans', { params: { query: { include_inactive: 'true' } } })).data
  } catch (error) {
    throw apiFailure('GET /v1/plans', error)
  }
}

/** `plans pull [--output file]`: the server's plans as YAML, on stdout or into the file. */
export async function pullPlans(api: Plangate, output: string | undefined, io: Output): Promise<void> {
  const yaml = plansToYaml(await serverPlans(api))
  if (output === undefined) io.out(yaml)
  else {
    writeFileSync(output, yaml)
    io.out(`wrote ${output}\n`)
  }
}

function readPlanFile(file: string) {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new CommandError(
      `${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`,
      1,
    )
  }
  const parsed = parsePlanFile(text)
  if (!parsed.ok) {
    const count = parsed.problems.length
    throw new CommandError(
      `${file}: ${count} problem${count === 1 ? '' : 's'}, nothing was sent`,
      1,
      parsed.problems.map((problem) => formatProblem(file, problem)),
    )
  }
  return { text, plans: parsed.plans }
}

function summary(changes: PlanChange[]): string {
  const writes = changes.filter(isWrite)
  if (writes.length === 0) return 'no changes'
  const counts = new Map<string, number>()
  for (const change of writes) counts.set(change.action, (counts.get(change.action) ?? 0) + 1)
  const parts = [...counts].map(([action, count]) => `${count} to ${action}`)
  return `${writes.length} change${writes.length === 1 ? '' : 's'}: ${parts.join(', ')}`
}

/** `plans diff <file> [--prune]`: what a push would do; true when something differs. */
export async function diffPlanFile(
  api: Plangate,
  file: string,
  options: { prune: boolean },
  io: Output,
): Promise<boolean> {
  const { plans } = readPlanFile(file)
  const changes = diffPlans(plans, await serverPlans(api), options)
  for (const change of changes) io.out(`${describeChange(change).join('\n')}\n`)
  io.out(`${summary(changes)}\n`)
  return changes.some(isWrite)
}

/**
 * `plans push <file> [--prune] [--dry-run]`: the diff, then each change through the API, one
 * line as each is applied. Stops at the first failure, saying what was applied before it.
 */
export async function pushPlanFile(
  api: Plangate,
  file: string,
  options: { prune: boolean; dryRun: boolean },
  io: Output,
): Promise<void> {
  const { text, plans } = readPlanFile(file)
  const changes = diffPlans(plans, await serverPlans(api), options)
  for (const change of changes.filter((change) => change.action === 'leave'))
    io.out(`${describeChange(change).join('\n')}\n`)
  const writes = changes.filter((change) => change.action !== 'leave')
  if (writes.length === 0) {
    io.out('no changes\n')
    return
  }
  if (options.dryRun) {
    for (const change of writes) io.out(`${describeChange(change).join('\n')}\n`)
    io.out(`${summary(changes)} (dry run: nothing was sent)\n`)
    return
  }
  const applied: string[] = []
  for (const change of writes) {
    try {
      await apply(api, change, text)
    } catch (error) {
      const failure = apiFailure(`${change.code}: ${change.action} failed`, error)
      throw new CommandError(
        `${failure.message}; ${applied.length === 0 ? 'nothing was applied' : `applied before it: ${applied.join(', ')}`}`,
        1,
      )
    }
    applied.push(`${change.action} ${change.code}`)
    io.out(`${appliedLine(change)}\n`)
  }
  io.out(`applied ${summary(changes)}\n`)
}

async function apply(api: Plangate, change: Exclude<PlanChange, { action: 'leave' }>, fileText: string) {
  const path = { code: change.code }
  if (change.action === 'create') {
    unwrap(
      await api.POST('/v1/plans', {
        body: change.body,
        headers: { 'idempotency-key': createIdempotencyKey(fileText, change.code) },
      }),
    )
    if (change.retired) unwrap(await api.DELETE('/v1/plans/{code}', { params: { path } }))
    return
  }
  if (Object.keys(change.patch).length > 0)
    unwrap(await api.PATCH('/v1/plans/{code}', { params: { path }, body: change.patch }))
  if (change.action === 'retire') unwrap(await api.DELETE('/v1/plans/{code}', { params: { path } }))
}
