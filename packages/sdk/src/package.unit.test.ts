// The package as another product installs it: `npm pack` (which builds it), unpacked into a project
// outside this repository, imported by its name with Node and type-checked by a consumer's tsc.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const exec = promisify(execFile)
const sdkRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const repoRoot = resolve(sdkRoot, '../..')

describe('@plangate/sdk as a package', () => {
  let project: string
  let files: string[]

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), 'plangate-sdk-consumer-'))
    const { stdout } = await exec('npm', ['pack', '--json', '--pack-destination', project], {
      cwd: sdkRoot,
      env: { ...process.env, npm_config_loglevel: 'error' },
    })
    const [packed] = JSON.parse(stdout.slice(stdout.indexOf('['))) as {
      filename: string
      files: { path: string }[]
    }[]
    if (!packed) throw new Error('npm pack reported nothing')
    files = packed.files.map((file) => file.path)
    const installed = join(project, 'node_modules', '@plangate', 'sdk')
    await mkdir(installed, { recursive: true })
    await exec('tar', ['-xzf', join(project, packed.filename), '-C', installed, '--strip-components=1'])
    // Its dependencies as npm would install them (from this repository's node_modules).
    for (const dependency of ['openapi-fetch', 'openapi-typescript-helpers']) {
      await symlink(
        join(repoRoot, 'node_modules', dependency),
        join(project, 'node_modules', dependency),
        'dir',
      )
    }
    await writeFile(join(project, 'package.json'), JSON.stringify({ type: 'module', private: true }))
  }, 120_000)
  afterAll(async () => {
    if (project) await rm(project, { recursive: true, force: true })
  })

  it('ships the built JavaScript, its types and the generated schema, and no tests', () => {
    for (const file of [
      'dist/index.js',
      'dist/index.d.ts',
      'dist/client.js',
      'dist/schema.d.ts',
      'package.json',
    ])
      expect(files).toContain(file)
    expect(files.filter((file) => file.includes('.test.'))).toEqual([])
  })

  it('is imported by its name with plain Node, and its helpers work', async () => {
    const script = `
      import { createHmac } from 'node:crypto'
      import { createPlangate, PlangateError, unwrap, verifyWebhook } from '@plangate/sdk'
      const client = createPlangate({ baseUrl: 'http://127.0.0.1:9', apiKey: 'pgk_test' })
      const body = JSON.stringify({ id: 'evt_1', type: 'subscription.created', data: {} })
      const t = Math.floor(Date.now() / 1000)
      const v1 = createHmac('sha256', 'whsec_x').update(t + '.' + body).digest('hex')
      const event = verifyWebhook(body, { 'plangate-signature': 't=' + t + ',v1=' + v1 }, 'whsec_x')
      let thrown
      try { unwrap({ error: { type: 'about:blank', title: 'Not Found', status: 404, code: 'not_found' }, response: new Response(null, { status: 404 }) }) } catch (error) { thrown = error }
      console.log(JSON.stringify({ get: typeof client.GET, event: event.id, typed: thrown instanceof PlangateError && thrown.code }))
    `
    const { stdout } = await exec(process.execPath, ['--input-type=module', '-e', script], { cwd: project })
    expect(JSON.parse(stdout)).toEqual({ get: 'function', event: 'evt_1', typed: 'not_found' })
  })

  it("gives a consumer's TypeScript the API's paths and bodies", async () => {
    await writeFile(
      join(project, 'use.ts'),
      `import { createPlangate, unwrap } from '@plangate/sdk'
const pg = createPlangate({ baseUrl: 'http://127.0.0.1:9', apiKey: 'pgk_test' })
export async function tenant(): Promise<string> {
  const account = unwrap(await pg.POST('/v1/accounts', { body: { name: 'Salon', external_id: 't-1' } }))
  // @ts-expect-error: not a path of the API
  await pg.GET('/v1/no-such-path')
  // @ts-expect-error: a number is not a name
  await pg.POST('/v1/accounts', { body: { name: 42 } })
  return account.id
}
`,
    )
    await writeFile(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          lib: ['ES2022', 'DOM'],
          types: [],
          noEmit: true,
        },
        files: ['use.ts'],
      }),
    )
    const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')
    const result = await exec(process.execPath, [tsc, '-p', project]).catch((error) => error)
    expect(result.stdout ?? '', result.stderr).toBe('')
    expect(await readdir(project)).toContain('use.ts')
  }, 60_000)
})
