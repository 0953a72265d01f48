import { generateKeyPairSync } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { loadConfig } from '../../config.ts'
import { hashPassword, setPasswordHashCost, verifyPassword } from './passwords.ts'

describe('password hashing parameters', () => {
  afterAll(() => setPasswordHashCost('owasp'))

  it('hashes with OWASP argon2id (19 MiB, 2 passes, 1 lane) under a production configuration', async () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      APP_URL: 'https://plangate.example',
      JWT_PRIVATE_KEY: generateKeyPairSync('ed25519')
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
    })
    expect(config.PASSWORD_HASH_COST).toBe('owasp')
    setPasswordHashCost(config.PASSWORD_HASH_COST)
    const stored = await hashPassword('correct-horse-battery-staple')
    expect(stored).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/)
    expect(await verifyPassword(stored, 'correct-horse-battery-staple')).toBe(true)
    expect(await verifyPassword(stored, 'wrong-horse-battery-staple')).toBe(false)
  })

  it('is the default when nothing sets it', () => {
    expect(loadConfig({}).PASSWORD_HASH_COST).toBe('owasp')
  })

  it('makes cheap hashes under the test profile, which still verify, and verifies older OWASP hashes', async () => {
    setPasswordHashCost('owasp')
    const older = await hashPassword('correct-horse-battery-staple')
    setPasswordHashCost('test')
    const cheap = await hashPassword('correct-horse-battery-staple')
    expect(cheap).toMatch(/^\$argon2id\$v=19\$m=8,t=1,p=1\$/)
    expect(await verifyPassword(cheap, 'correct-horse-battery-staple')).toBe(true)
    expect(await verifyPassword(older, 'correct-horse-battery-staple')).toBe(true)
    expect(await verifyPassword(undefined, 'correct-horse-battery-staple')).toBe(false)
  })
})
