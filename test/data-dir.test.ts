// The embedded database's files hold password hashes and the generated signing key. PGlite writes
// them readable and writable by everyone, so the folder around them must be closed to other users
// (found by an attack: any local user could read the key from the WAL and forge an admin token).
import { chmodSync, mkdirSync, mkdtempSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { openDatabase } from '../src/core/db.ts'
import { testDbKind } from './helpers/db.ts'

const modeOf = (path: string) => statSync(path).mode & 0o777

describe.skipIf(testDbKind === 'postgres')('the embedded data directory', () => {
  it('keeps the database files out of reach of other local users', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'plangate-perm-'))
    const database = await openDatabase({ dataDir })
    try {
      expect(modeOf(join(dataDir, 'pglite')) & 0o077).toBe(0)
    } finally {
      await database.close()
    }
  })

  it('closes a database folder an earlier version left open to everyone', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'plangate-perm-'))
    mkdirSync(join(dataDir, 'pglite'))
    chmodSync(join(dataDir, 'pglite'), 0o777)
    const database = await openDatabase({ dataDir })
    try {
      expect(modeOf(join(dataDir, 'pglite'))).toBe(0o700)
    } finally {
      await database.close()
    }
  })
})
