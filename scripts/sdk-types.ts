// Generates packages/sdk/src/schema.d.ts, the API's types, from the OpenAPI document the route
// schemas build (scripts/openapi.ts), with openapi-typescript (a dev dependency of packages/sdk, as
// it needs TypeScript 5's compiler API). With `--check` it writes nothing and fails when the
// committed file differs from what the routes generate now.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const target = resolve('packages/sdk/src/schema.d.ts')
const check = process.argv.includes('--check')

const header = `// Generated from the OpenAPI document of the routes by \`npm run types\`; do not edit.
// \`npm run check:types\` fails when it is out of date.
`

const work = mkdtempSync(join(tmpdir(), 'plangate-sdk-types-'))
try {
  const document = join(work, 'openapi.json')
  const types = join(work, 'schema.d.ts')
  // The document's `servers` is the only part that depends on the environment; pin it.
  execFileSync('npx', ['tsx', 'scripts/openapi.ts', document], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, APP_URL: 'http://localhost:8000' },
  })
  // Run from the workspace so the generator does not pick up the root redocly.yaml (lint settings).
  execFileSync(resolve('packages/sdk/node_modules/.bin/openapi-typescript'), [document, '-o', types], {
    cwd: resolve('packages/sdk'),
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const generated = header + readFileSync(types, 'utf8').replace(/^\/\*\*\n( \*.*\n)* \*\/\n/, '')
  if (check) {
    let committed = ''
    try {
      committed = readFileSync(target, 'utf8')
    } catch {}
    if (committed !== generated) {
      process.stderr.write(
        'packages/sdk/src/schema.d.ts is out of date with the route schemas: run `npm run types` and commit it.\n',
      )
      process.exitCode = 1
    } else {
      process.stdout.write('packages/sdk/src/schema.d.ts is up to date\n')
    }
  } else {
    writeFileSync(target, generated)
    process.stdout.write('wrote packages/sdk/src/schema.d.ts\n')
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
