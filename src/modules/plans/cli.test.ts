// Pricing as code and the keys commands: `plangate plans pull | diff | push` against a running
// server over real HTTP (the command functions in-process, and once through bin/plangate.js), and
// `plangate keys create | list | revoke` on the test database.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bearer, buildTestApp, loginAdmin, type TestApp, uniqueCode } from '../../../test/helpers/app.ts'
import { testDbKind } from '../../../test/helpers/db.ts'
import { plangate } from '../../../test/helpers/process.ts'
import { checkKeyRequest, createKeyCommand, listKeysCommand, revokeKeyCommand } from '../../commands.ts'
import { CommandError } from '../../core/startup.ts'
import { apiClient, diffPlanFile, pullPlans, pushPlanFile } from '../../plan-commands.ts'
import type { Plan } from './schemas.ts'

const workDir = mkdtempSync(join(tmpdir(), 'plangate-plans-cli-'))
let fileCount = 0
/** A new file in the test's own directory. */
const newFile = (text = '') => {
  const file = join(workDir, `plans-${fileCount++}.yaml`)
  writeFileSync(file, text)
  return file
}

describe('plangate plans pull | diff | push', () => {
  let t: TestApp
  let baseUrl: string
  let admin: string
  let writerKey: string
  /** The requests the CLI sent, as `METHOD /path`. */
  const sent: string[] = []
  const idempotencyKeys: string[] = []
  /** A request (`METHOD /path`) answered with a 409 problem instead of being sent. */
  let refuse: string | undefined
  const recordingFetch: typeof globalThis.fetch = async (input, init) => {
    const request = new Request(input, init)
    const line = `${request.method} ${new URL(request.url).pathname}`
    sent.push(line)
    const key = request.headers.get('idempotency-key')
    if (key) idempotencyKeys.push(key)
    if (line === refuse) {
      const problem = {
        type: 'about:blank',
        title: 'Conflict',
        status: 409,
        code: 'conflict',
        detail: 'refused here',
      }
      return new Response(JSON.stringify(problem), {
        status: 409,
        headers: { 'content-type': 'application/problem+json' },
      })
    }
    return globalThis.fetch(request)
  }
  const cli = (key = writerKey) => apiClient({ PLANGATE_URL: baseUrl, PLANGATE_API_KEY: key }, recordingFetch)
  const writes = () => sent.filter((line) => !line.startsWith('GET '))

  /** Runs a command in-process; its stdout as one string. */
  async function capture(command: (io: { out: (text: string) => void }) => Promise<unknown>) {
    let out = ''
    const result = await command({ out: (text) => (out += text) })
    return { out, result }
  }
  const pull = async () => {
    const file = newFile()
    await capture((io) => pullPlans(cli(), file, io))
    return file
  }
  const push = (file: string, options: { prune?: boolean; dryRun?: boolean } = {}, key?: string) =>
    capture((io) =>
      pushPlanFile(cli(key), file, { prune: options.prune ?? false, dryRun: options.dryRun ?? false }, io),
    )
  const diff = (file: string, prune = false) => capture((io) => diffPlanFile(cli(), file, { prune }, io))
  const edit = (file: string, from: string | RegExp, to: string) => {
    const text = readFileSync(file, 'utf8')
    const edited = text.replace(from, to)
    expect(edited, `${String(from)} not in the file`).not.toBe(text)
    writeFileSync(file, edited)
  }
  const getPlan = async (code: string): Promise<Plan> => {
    const res = await t.app.inject({ method: 'GET', url: `/v1/plans/${code}` })
    expect(res.statusCode, res.body).toBe(200)
    return res.json()
  }
  const planAudit = async (): Promise<number> => {
    const res = await t.app.inject({
      method: 'GET',
      url: '/v1/admin/audit-log?action=plan.*&limit=100',
      headers: bearer(admin),
    })
    expect(res.statusCode, res.body).toBe(200)
    return res.json().data.length
  }
  const makeKey = async (scopes: string[]) => {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/admin/api-keys',
      headers: bearer(admin),
      payload: { name: 'plans cli', scopes },
    })
    expect(res.statusCode, res.body).toBe(201)
    return res.json() as { id: string; key: string }
  }
  /** A plan of its own for a test, created through the API. */
  const createPlan = async (payload: Record<string, unknown>) => {
    const res = await t.app.inject({ method: 'POST', url: '/v1/plans', headers: bearer(admin), payload })
    expect(res.statusCode, res.body).toBe(201)
  }

  beforeAll(async () => {
    t = await buildTestApp()
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    baseUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
    admin = await loginAdmin(t.app)
    writerKey = (await makeKey(['plans:write'])).key
  })
  afterAll(async () => {
    await t?.close()
  })

  it('pull writes every plan as YAML, by tier then code, retired ones marked active: false', async () => {
    const retired = uniqueCode('old')
    await createPlan({ code: retired, name: 'Old', price_cents: 500, tier: 0 })
    await t.app.inject({ method: 'DELETE', url: `/v1/plans/${retired}`, headers: bearer(admin) })

    const { out } = await capture((io) => pullPlans(cli(), undefined, io))
    expect(out).toMatch(/^# plangate plans: edit, then/)
    expect(out).toContain(
      [
        '  - code: basic',
        '    name: Basic',
        '    description: "For a small salon: 2 staff members, 5 bookings a day."',
        '    price_cents: 1900',
        '    currency: usd',
        '    interval: month',
        '    tier: 1',
        '    trial_days: 0',
        '    limits:',
        '      bookings_per_day: 5',
        '      staff: 2',
        '    features: {}',
        '  - code: pro',
      ].join('\n'),
    )
    expect(out).toMatch(new RegExp(`- code: ${retired}\\n(.*\\n)*?    active: false\\n  - code: basic`))
    expect(out.match(/^ {4}active:/gm)).toHaveLength(1)
    expect(out).not.toMatch(/prod_|price_1|stripe/i)
  })

  it('pull then push is a no-op: "no changes" and not one write request', async () => {
    const file = await pull()
    const auditBefore = await planAudit()
    sent.length = 0
    const { out } = await push(file)
    expect(out).toBe('no changes\n')
    expect(sent).toEqual(['GET /v1/plans'])
    expect(await planAudit()).toBe(auditBefore)

    const shown = await diff(file)
    expect(shown).toEqual({ out: 'no changes\n', result: false })
  })

  it('a changed limit: diff shows it, push applies it, the API shows it, a second push changes nothing', async () => {
    const file = await pull()
    edit(file, /(- code: basic\n(.*\n)*? {6}staff: )2/, '$13')

    const shown = await diff(file)
    expect(shown.result).toBe(true)
    expect(shown.out).toBe('~ update basic\n    limits.staff 2 → 3\n1 change: 1 to update\n')

    sent.length = 0
    const applied = await push(file)
    expect(applied.out).toBe('updated basic: limits.staff 2 → 3\napplied 1 change: 1 to update\n')
    expect(writes()).toEqual(['PATCH /v1/plans/basic'])
    expect((await getPlan('basic')).limits).toEqual({ staff: 3, bookings_per_day: 5 })

    sent.length = 0
    expect((await push(file)).out).toBe('no changes\n')
    expect(writes()).toEqual([])
  })

  it('creates a new plan once (a repeated push sends nothing), reports a price change with the keep-their-price line, retires and brings back', async () => {
    const code = uniqueCode('team')
    const file = await pull()
    writeFileSync(
      file,
      `${readFileSync(file, 'utf8')}  - code: ${code}\n    name: Team\n    price_cents: 4900\n    currency: EUR\n    tier: 3\n    limits: { staff: 10, bookings_per_day: null }\n`,
    )
    edit(file, 'price_cents: 4900\n    currency: usd', 'price_cents: 5900\n    currency: usd')

    const shown = await diff(file)
    expect(shown.out).toContain(
      '~ update pro\n    price_cents 4900 → 5900\n    note: new price for new subscribers; current subscribers keep theirs',
    )
    expect(shown.out).toContain(
      `+ create ${code}: "Team", 4900 eur a month, tier 3\n    limits.bookings_per_day unlimited\n    limits.staff 10\n`,
    )

    sent.length = 0
    idempotencyKeys.length = 0
    const applied = await push(file)
    expect(applied.out).toContain(
      'updated pro: price_cents 4900 → 5900 (new price for new subscribers; current subscribers keep theirs',
    )
    expect(applied.out).toContain(`created ${code}\n`)
    expect(applied.out).toMatch(/applied 2 changes: (1 to update, 1 to create|1 to create, 1 to update)\n$/)
    expect(writes().sort()).toEqual(['PATCH /v1/plans/pro', 'POST /v1/plans'])
    expect(idempotencyKeys).toHaveLength(1)
    expect(idempotencyKeys[0]).toMatch(/^plangate-push-[0-9a-f]{40}$/)
    expect(await getPlan(code)).toMatchObject({
      name: 'Team',
      price_cents: 4900,
      currency: 'eur',
      interval: 'month',
      description: '',
      limits: { staff: 10, bookings_per_day: null },
      is_active: true,
    })
    expect((await getPlan('pro')).price_cents).toBe(5900)

    sent.length = 0
    expect((await push(file)).out).toBe('no changes\n')
    expect(writes()).toEqual([])

    // active: false retires it (DELETE); removing the line brings it back (PATCH is_active).
    edit(file, `tier: 3\n`, 'tier: 3\n    active: false\n')
    expect((await diff(file)).out).toContain(
      `- retire ${code}: subscribers keep it, new subscriptions are refused`,
    )
    sent.length = 0
    expect((await push(file)).out).toContain(`retired ${code}\n`)
    expect(writes()).toEqual([`DELETE /v1/plans/${code}`])
    expect((await getPlan(code)).is_active).toBe(false)
    expect((await push(file)).out).toBe('no changes\n')

    edit(file, 'tier: 3\n    active: false\n', 'tier: 3\n')
    sent.length = 0
    expect((await push(file)).out).toContain(`reactivated ${code}\n`)
    expect(writes()).toEqual([`PATCH /v1/plans/${code}`])
    expect((await getPlan(code)).is_active).toBe(true)

    // Put pro back for the other tests.
    edit(file, 'price_cents: 5900', 'price_cents: 4900')
    await push(file)
  })

  it('leaves plans missing from the file alone, and retires them with --prune (dry run first)', async () => {
    const code = uniqueCode('spare')
    await createPlan({ code, name: 'Spare', price_cents: 100, tier: 9 })
    const file = await pull()
    edit(file, new RegExp(`  - code: ${code}\\n(    .*\\n)*`), '')

    sent.length = 0
    expect((await push(file)).out).toBe(
      `  leave ${code}: on the server but not in the file (--prune retires it)\nno changes\n`,
    )
    const dry = await push(file, { prune: true, dryRun: true })
    expect(dry.out).toContain(`- retire ${code}: not in the file (--prune)`)
    expect(dry.out).toMatch(/\(dry run: nothing was sent\)\n$/)
    expect(writes()).toEqual([])

    expect((await push(file, { prune: true })).out).toContain(`retired ${code}\n`)
    expect(writes()).toEqual([`DELETE /v1/plans/${code}`])
    expect((await getPlan(code)).is_active).toBe(false)
  })

  it('stops at the first refused change with exit 1, saying what it applied before it', async () => {
    const code = uniqueCode('first')
    const file = await pull()
    edit(file, /(- code: basic\n(.*\n)*? {4}trial_days: )\d+/, '$17')
    writeFileSync(
      file,
      `${readFileSync(file, 'utf8')}  - code: ${code}\n    name: First\n    price_cents: 1\n    tier: 99\n`,
    )
    edit(file, /(- code: pro\n(.*\n)*? {4}trial_days: )\d+/, '$17')

    refuse = 'PATCH /v1/plans/pro'
    sent.length = 0
    const error = await push(file).catch((caught: unknown) => caught)
    refuse = undefined
    expect(error).toMatchObject({
      exitCode: 1,
      message: 'pro: update failed: 409 conflict: refused here; applied before it: update basic',
    })
    expect(writes()).toEqual(['PATCH /v1/plans/basic', 'PATCH /v1/plans/pro'])
    expect((await getPlan('basic')).trial_days).toBe(7)
    // Nothing after the refusal was sent: the new plan is still to be created.
    expect((await diff(file)).out).toMatch(
      new RegExp(`~ update pro\n    trial_days 0 → 7\n\\+ create ${code}`),
    )

    // Put basic back for the other tests.
    edit(file, /(- code: basic\n(.*\n)*? {4}trial_days: )7/, '$10')
    edit(file, /(- code: pro\n(.*\n)*? {4}trial_days: )7/, '$10')
    edit(file, new RegExp(`  - code: ${code}\n(    .*\n)*`), '')
    await push(file)
  })

  it.each([
    ['a YAML syntax error', 'plans:\n  - code: basic\n   name: Basic\n', /:3:1: YAML: /],
    [
      'a negative price',
      'plans:\n  - code: cheap\n    name: Cheap\n    price_cents: -1\n',
      /:4:18: plans\[0\]\.price_cents: Too small/,
    ],
    [
      'an unknown field',
      'plans:\n  - code: odd\n    name: Odd\n    price_cents: 1\n    colour: red\n',
      /:5:5: plans\[0\]\.colour: unknown field/,
    ],
    [
      'a duplicate code',
      'plans:\n  - code: twin\n    name: A\n    price_cents: 1\n  - code: twin\n    name: B\n    price_cents: 2\n',
      /:5:11: plans\[1\]\.code: duplicate code twin \(first on line 2\)/,
    ],
    ['a missing field', 'plans:\n  - code: bare\n    price_cents: 1\n', /:2:5: plans\[0\]\.name: required/],
  ])('refuses a file with %s, naming file:line:col, and sends nothing', async (_, text, problem) => {
    const file = newFile(text)
    sent.length = 0
    const error = await push(file).catch((caught: unknown) => caught)
    expect(error).toBeInstanceOf(CommandError)
    const { exitCode, details, message } = error as CommandError
    expect(exitCode).toBe(1)
    expect(details).toHaveLength(1)
    expect(details[0]?.startsWith(`${file}:`)).toBe(true)
    expect(details[0]).toMatch(problem)
    expect(message).toBe(`${file}: 1 problem, nothing was sent`)
    expect(sent).toEqual([])
  })

  it('without PLANGATE_URL or PLANGATE_API_KEY: exit status 2 naming the missing setting', () => {
    const missing = (env: Record<string, string>) => {
      try {
        apiClient(env)
      } catch (error) {
        return error as CommandError
      }
      throw new Error('no error')
    }
    expect(missing({ PLANGATE_URL: baseUrl })).toMatchObject({ exitCode: 2 })
    expect(missing({ PLANGATE_URL: baseUrl }).message).toMatch(/^PLANGATE_API_KEY is not set/)
    expect(missing({ PLANGATE_API_KEY: writerKey }).message).toMatch(/^PLANGATE_URL is not set/)
    expect(missing({}).message).toMatch(/^PLANGATE_URL and PLANGATE_API_KEY are not set/)
  })

  it('a key without plans:write fails naming the scope; an unknown key is "refused"; nothing is written', async () => {
    const file = await pull()
    edit(file, /(- code: basic\n(.*\n)*? {6}staff: )\d+/, '$17')
    const reader = await makeKey(['accounts:read'])
    sent.length = 0
    const scope = await push(file, {}, reader.key).catch((caught: unknown) => caught)
    expect(scope).toMatchObject({ exitCode: 1 })
    expect((scope as CommandError).message).toBe(
      'GET /v1/plans: 403 forbidden: This API key lacks the plans:write scope',
    )
    const refused = await push(file, {}, 'pgk_not-a-key-at-all').catch((caught: unknown) => caught)
    expect((refused as CommandError).message).toMatch(
      /^GET \/v1\/plans: the key was refused \(unauthorized: /,
    )
    expect(writes()).toEqual([])
  })

  // Spawning is the same on either database: run once, on PGlite.
  it.runIf(testDbKind === 'pglite')(
    'through bin/plangate.js: pull to a file, push it (no changes), a bad file exits 1 with its line, missing settings exit 2',
    async () => {
      const env = { PLANGATE_URL: baseUrl, PLANGATE_API_KEY: writerKey }
      const file = join(workDir, 'spawned.yaml')
      const pulled = await plangate(['plans', 'pull', '--output', file], env)
      expect(pulled, pulled.stderr).toMatchObject({ code: 0, stdout: `wrote ${file}\n` })
      const pushed = await plangate(['plans', 'push', file], env)
      expect(pushed).toMatchObject({ code: 0, stdout: 'no changes\n', stderr: '' })

      // --exit-code: 3 when the server differs from the file (CI can gate on drift).
      edit(file, /(- code: basic\n(.*\n)*? {4}trial_days: )\d+/, '$130')
      const drift = await plangate(['plans', 'diff', file, '--exit-code'], env)
      expect(drift).toMatchObject({
        code: 3,
        stdout: '~ update basic\n    trial_days 0 → 30\n1 change: 1 to update\n',
      })

      edit(file, /(- code: basic\n(.*\n)*? {4}price_cents: )\d+/, '$1-5')
      const bad = await plangate(['plans', 'diff', file], env)
      expect(bad.code).toBe(1)
      expect(bad.stdout).toBe('')
      expect(bad.stderr).toMatch(
        new RegExp(
          `^${file.replaceAll('.', '\\.')}:\\d+:18: plans\\[\\d+\\]\\.price_cents: Too small.*\\nplangate: ${file.replaceAll('.', '\\.')}: 1 problem, nothing was sent\\n$`,
        ),
      )

      const unset = await plangate(['plans', 'pull'], { PLANGATE_URL: baseUrl })
      expect(unset.code).toBe(2)
      expect(unset.stderr).toMatch(/^plangate: PLANGATE_API_KEY is not set/)
    },
    60_000,
  )
})

describe('plangate keys create | list | revoke', () => {
  let t: TestApp
  const lines: string[] = []
  const print = (line: string) => lines.push(line)
  const now = () => t.clock.now()
  const plansAsKey = (key: string) =>
    t.app.inject({ method: 'GET', url: '/v1/plans?include_inactive=true', headers: bearer(key) })

  beforeAll(async () => {
    t = await buildTestApp()
  })
  afterAll(async () => {
    await t?.close()
  })

  it('creates a site key printed once that the API accepts, lists it, and revokes it for good', async () => {
    const name = uniqueCode('deploy')
    lines.length = 0
    const request = { name, scopes: 'plans:write, accounts:read', account: undefined, expires: undefined }
    await createKeyCommand(t.deps.db, checkKeyRequest(request, now()), now(), print)
    expect(lines[0]).toMatch(/^created site key [0-9a-f-]{36}$/)
    expect(lines).toContain('  scopes:  plans:write, accounts:read')
    const secret = lines.at(-1) ?? ''
    expect(secret).toMatch(/^pgk_/)
    const id = lines[0]?.split(' ').at(-1) ?? ''
    expect((await plansAsKey(secret)).statusCode).toBe(200)

    // Made by no person: the audit log names the system.
    const audit = await t.app.inject({
      method: 'GET',
      url: `/v1/admin/audit-log?action=api_key.created&subject_id=${id}`,
      headers: bearer(await loginAdmin(t.app)),
    })
    expect(audit.json().data).toMatchObject([{ actor_type: 'system', actor_user_id: null }])

    lines.length = 0
    await listKeysCommand(t.deps.db, null, print)
    expect(lines[0]).toMatch(/^id +prefix +name +scopes +last used +expires +revoked$/)
    const row = lines.find((line) => line.startsWith(id))
    expect(row).toContain(secret.slice(0, 12))
    expect(row).toContain('plans:write,accounts:read')
    expect(lines.join('\n')).not.toContain(secret)

    lines.length = 0
    await revokeKeyCommand(t.deps.db, id, now(), print)
    expect(lines).toEqual([`revoked ${secret.slice(0, 12)} (${name}, ${id})`])
    expect((await plansAsKey(secret)).statusCode).toBe(401)
    lines.length = 0
    await revokeKeyCommand(t.deps.db, id, now(), print)
    expect(lines[0]).toMatch(/was already revoked at /)
  })

  it('refuses unknown scopes, site-only scopes on an account key and a past expiry (exit 2), an unknown account or key (exit 1)', async () => {
    const check = (request: Partial<Parameters<typeof checkKeyRequest>[0]>) => {
      try {
        return checkKeyRequest(
          { name: 'k', scopes: 'accounts:read', account: undefined, expires: undefined, ...request },
          now(),
        )
      } catch (error) {
        return error as CommandError
      }
    }
    expect(check({ scopes: 'accounts:read,plans:admin' })).toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/^--scopes: unknown scope plans:admin \(known: accounts:read, /),
    })
    const account = '0193a1b2-6c4d-7e8f-9a0b-1c2d3e4f5a6b'
    expect(check({ scopes: 'plans:write', account })).toMatchObject({
      exitCode: 2,
      message: '--scopes: plans:write is for site keys only (drop --account)',
    })
    expect(check({ expires: '2001-01-01' })).toMatchObject({ exitCode: 2 })
    expect(check({ expires: 'soon' })).toMatchObject({ exitCode: 2, message: '--expires: not a date: soon' })

    const unknownAccount = await createKeyCommand(
      t.deps.db,
      check({ account }) as ReturnType<typeof checkKeyRequest>,
      now(),
      print,
    ).catch((error: unknown) => error)
    expect(unknownAccount).toMatchObject({ message: `--account: no account ${account}` })
    expect(unknownAccount).not.toBeInstanceOf(CommandError)
    const unknownKey = await revokeKeyCommand(t.deps.db, account, now(), print).catch(
      (error: unknown) => error,
    )
    expect(unknownKey).toMatchObject({ message: `no key with id ${account}` })
  })

  it.runIf(testDbKind === 'pglite')(
    'through bin/plangate.js: an unknown scope or keys subcommand exits 2 before opening the database',
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'plangate-keys-cli-'))
      const scope = await plangate(['keys', 'create', '--name', 'x', '--scopes', 'nope'], {
        DATA_DIR: dataDir,
      })
      expect(scope.code).toBe(2)
      expect(scope.stderr).toMatch(/^plangate: --scopes: unknown scope nope \(known: /)
      const sub = await plangate(['keys', 'rotate'], { DATA_DIR: dataDir })
      expect(sub.code).toBe(2)
      expect(sub.stderr).toMatch(/^plangate: unknown keys command "rotate"\n\nusage: plangate <command>/)
    },
    60_000,
  )
})
