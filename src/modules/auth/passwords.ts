import { hash, verify } from '@node-rs/argon2'
import { normalizePassword } from './credentials.ts'

// OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane). `2` is Algorithm.Argon2id, a const enum
// that cannot be imported under verbatimModuleSyntax. Hashing is deliberately slow: callers run it
// before they open a transaction, never while holding a database connection.
const options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 }

/** The argon2id hash of a password, in its NFC form. */
export const hashPassword = (password: string): Promise<string> => hash(normalizePassword(password), options)

// Verified against when the user does not exist, so a wrong email and a wrong password take the same time.
const dummyHash = hash('plangate-dummy-password-for-timing', options)

/** Checks a password (NFC) against a stored hash; with no hash it still spends the same time and fails. */
export async function verifyPassword(
  passwordHash: string | null | undefined,
  password: string,
): Promise<boolean> {
  const normalized = normalizePassword(password)
  if (!passwordHash) {
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
