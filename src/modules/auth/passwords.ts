import { hash, verify } from '@node-rs/argon2'

// OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane). `2` is Algorithm.Argon2id, a const enum
// that cannot be imported under verbatimModuleSyntax.
const options = { algorithm: 2, memoryCost: 19_456, timeCost: 2, parallelism: 1 }

export const hashPassword = (password: string): Promise<string> => hash(password, options)

// Verified against when the user does not exist, so a wrong email and a wrong password take the same time.
const dummyHash = hash('plangate-dummy-password-for-timing', options)

/** Checks a password against a stored hash; with no hash it still spends the same time and fails. */
export async function verifyPassword(
  passwordHash: string | null | undefined,
  password: string,
): Promise<boolean> {
  if (!passwordHash) {
    await verify(await dummyHash, password).catch(() => false)
    return false
  }
  try {
    return await verify(passwordHash, password)
  } catch {
    return false
  }
}
