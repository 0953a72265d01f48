// Generates two files of packages/sdk from the OpenAPI document the route schemas build
// (scripts/openapi.ts): src/schema.d.ts, the API's types, with openapi-typescript (a dev dependency
// of packages/sdk, as it needs TypeScript 5's compiler API), and src/idempotent-operations.ts, the
// operations that declare the Idempotency-Key header (the only POSTs the SDK sends again). With
// `--check` it writes nothing and fails when a committed file differs from what the routes generate now.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'

const check = process.argv.includes('--check')

const header = `// Generated from the OpenAPI document of the routes by \`npm run types\`; do not edit.
// \`npm run check:types\` fails when it is out of date.
`

interface Parameter {
  $ref?: string
  name?: string
  in?: string
}
interface Document {
  paths: Record<string, Record<string, unknown>>
  components?: { parameters?: Record<string, Parameter> }
}

const methods = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

/** `METHOD /path/{template}` of every operation taking an `Idempotency-Key` header, sorted. */
function idempotentOperations(document: Document): string[] {
  const resolveParameter = (parameter: Parameter): Parameter => {
    const name = parameter.$ref?.match(/^#\/components\/parameters\/(.+)$/)?.[1]
    return name ? (document.components?.parameters?.[name] ?? parameter) : parameter
  }
  const takesKey = (parameters: unknown) =>
    Array.isArray(parameters) &&
    parameters
      .map((parameter: Parameter) => resolveParameter(parameter))
      .some((parameter) => parameter.in === 'header' && parameter.name?.toLowerCase() === 'idempotency-key')
  const found: string[] = []
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of methods) {
      const operation = item[method] as { parameters?: unknown } | undefined
      if (operation && (takesKey(operation.parameters) || takesKey(item.parameters))) {
        found.push(`${method.toUpperCase()} ${path}`)
      }
    }
  }
  return found.sort()
}

function operationsModule(operations: string[]): string {
  return `${header}
/**
 * The operations (\`METHOD /path/{template}\`, as openapi-fetch's \`schemaPath\`) that declare the
 * \`Idempotency-Key\` header: the server replays the first answer to a retry with the same key, so
 * the SDK sends these again after a network error, a timeout, 429 or 5xx. Other POSTs and PATCHes
 * are sent once.
 */
export const idempotentOperations: ReadonlySet<string> = new Set([
${operations.map((operation) => `  '${operation}',`).join('\n')}
])
`
}

const work = mkdtempSync(join(tmpdir(), 'plangate-sdk-types-'))
try {
  const documentFile = join(work, 'openapi.json')
  const types = join(work, 'schema.d.ts')
  // The document's `servers` is the only part that depends on the environment; pin it.
  execFileSync('npx', ['tsx', 'scripts/openapi.ts', documentFile], {
    stdio: ['ignore', 'ignore', 'inherit'],
    env: { ...process.env, APP_URL: 'http://localhost:8000' },
  })
  // Run from the workspace so the generator does not pick up the root redocly.yaml (lint settings).
  execFileSync(resolve('packages/sdk/node_modules/.bin/openapi-typescript'), [documentFile, '-o', types], {
    cwd: resolve('packages/sdk'),
    stdio: ['ignore', 'ignore', 'inherit'],
  })
  const document = JSON.parse(readFileSync(documentFile, 'utf8')) as Document
  const outputs = [
    {
      file: 'packages/sdk/src/schema.d.ts',
      text: header + readFileSync(types, 'utf8').replace(/^\/\*\*\n( \*.*\n)* \*\/\n/, ''),
    },
    {
      file: 'packages/sdk/src/idempotent-operations.ts',
      text: operationsModule(idempotentOperations(document)),
    },
  ]
  for (const { file, text } of outputs) {
    if (check) {
      let committed = ''
      try {
        committed = readFileSync(resolve(file), 'utf8')
      } catch {}
      if (committed !== text) {
        process.stderr.write(
          `${file} is out of date with the route schemas: run \`npm run types\` and commit it.\n`,
        )
        process.exitCode = 1
      } else {
        process.stdout.write(`${file} is up to date\n`)
      }
    } else {
      writeFileSync(resolve(file), text)
      process.stdout.write(`wrote ${file}\n`)
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true })
}
