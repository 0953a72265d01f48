import { hash, verify } from '@node-rs/argon2'
import { normalizePassword } from './credentials.ts'

/**
 * Which argon2id parameters new hashes get: `owasp` is OWASP's baseline (19 MiB, 2 passes,
 * 1 lane) and the only one production accepts (see PASSWORD_HASH_COST in config.ts); `test` is the
 * cheapest argon2id allows, so test suites that sign in hundreds of times do not spend their time
 * hashing. A stored hash names its own parameters, so verification works whatever the setting.
 */
export type PasswordHashCost = 'owasp' | 'test'

// `2` is Algorithm.Argon2id, a const enum that cannot be imported under verbatimModuleSyntax.
// Hashing is deliberately slow: callers run it before they open a transaction, never while
// holding a database connection.
const parameters = {
  owasp: { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 },
  test: { algorithm: 2, memoryCost: 8, timeCost: 1, parallelism: 1 },
} as const

let options: (typeof parameters)[PasswordHashCost] = parameters.owasp
// Verified against when the user does not exist, so a wrong email and a wrong password take the
// same time: made with the parameters in force, at start-up (so the first unknown email costs no
// more than the next), and made again if they change.
let dummyHash: Promise<string> | undefined
const makeDummyHash = () => hash('plangate-dummy-password-for-timing', options)

/** Sets the parameters of new hashes and of the dummy hash; the composition root calls it at start. */
export function setPasswordHashCost(cost: PasswordHashCost): void {
  if (options === parameters[cost] && dummyHash) return
  options = parameters[cost]
  dummyHash = makeDummyHash()
}

/** The argon2id hash of a password, in its NFC form. */
export const hashPassword = (password: string): Promise<string> => hash(normalizePassword(password), options)

/** Checks a password (NFC) against a stored hash; with no hash it still spends the same time and fails. */
export async function verifyPassword(
  passwordHash: string | null | undefined,
  password: string,
): Promise<boolean> {
  const normalized = normalizePassword(password)
  if (!passwordHash) {
    dummyHash ??= makeDummyHash()
    await verify(await dummyHash, normalized).catch(() => false)
    return false
  }
  try {
    if (await verify(passwordHash, normalized)) return true
    // A hash made before passwords were normalised, from a password typed in another form.
    return normalized !== password && (await verify(passwordHash, password))
  } catch {
    return false
  }
}
