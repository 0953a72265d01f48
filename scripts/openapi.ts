// Writes the OpenAPI document the app serves at /openapi.json to a file (default dist/openapi.json),
// built from the route schemas on a throwaway in-memory database, so it can be linted without a server.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { pino } from 'pino'
import { buildApp } from '../src/app.ts'
import { loadConfig } from '../src/config.ts'
import { openDatabase } from '../src/core/db.ts'
import { closeDeps, createDeps } from '../src/wiring.ts'

const out = resolve(process.argv[2] ?? 'dist/openapi.json')
// Only what the document depends on: the public URL (its `servers`) and no admin password printed.
const config = loadConfig({
  NODE_ENV: 'test',
  LOG_LEVEL: 'silent',
  APP_URL: process.env.APP_URL ?? 'http://localhost:8000',
  ADMIN_EMAIL: 'openapi@plangate.invalid',
  ADMIN_PASSWORD: 'not-used-by-the-document',
})
const database = await openDatabase({})
await database.migrate()
const deps = await createDeps(config, pino({ level: 'silent' }), { database })
const app = await buildApp(deps)
await app.ready()
const document = app.swagger()
mkdirSync(dirname(out), { recursive: true })
writeFileSync(out, `${JSON.stringify(document, null, 2)}\n`)
await app.close()
await closeDeps(deps)
process.stdout.write(`wrote ${out}\n`)
