// Runs once per test run, before any test file: makes the migrated template each test database is
// copied from (see helpers/db.ts), so the workers do not race to build it; and builds the web UI
// when its sources changed.
import type { TestProject } from 'vitest/node'
import { ensurePostgresTemplate, pgliteTemplateDump } from './helpers/db.ts'
import { ensureWebBuild } from './helpers/web.ts'

export default async function setup(project: TestProject): Promise<void> {
  // The browser tests and the web routes' tests serve the built UI.
  await ensureWebBuild()
  if (project.config.env?.TEST_DB === 'postgres') {
    const adminUrl = process.env.TEST_DATABASE_URL
    if (!adminUrl) throw new Error('the postgres test project needs TEST_DATABASE_URL')
    await ensurePostgresTemplate(adminUrl)
  } else {
    await pgliteTemplateDump()
  }
}
