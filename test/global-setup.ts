// Runs once per test run, before any test file: makes the migrated template each test database is
// copied from (see helpers/db.ts), so the workers do not race to build it.
import type { TestProject } from 'vitest/node'
import { ensurePostgresTemplate, pgliteTemplateDump } from './helpers/db.ts'

export default async function setup(project: TestProject): Promise<void> {
  if (project.config.env?.TEST_DB === 'postgres') {
    const adminUrl = process.env.TEST_DATABASE_URL
    if (!adminUrl) throw new Error('the postgres test project needs TEST_DATABASE_URL')
    await ensurePostgresTemplate(adminUrl)
  } else {
    await pgliteTemplateDump()
  }
}
