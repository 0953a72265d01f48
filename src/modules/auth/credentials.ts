// How what a person types is compared. One function per kind of input, used by every place that
// compares it, so that the rate limiter and the login lookup can never disagree on who an attempt
// is for (padding an email with spaces or changing its case must not buy a fresh budget).

/**
 * The canonical form of a sign-in identifier (email or username): Unicode NFC, surrounding
 * white space removed, lower case. Login looks users up with it (`lower(email)` / `lower(username)`)
 * and the credential rate limit keys on it.
 */
export function normalizeIdentifier(value: string): string {
  return value.normalize('NFC').trim().toLowerCase()
}

/**
 * The form a password is hashed and verified in: Unicode NFC, as NIST SP 800-63B (5.1.1.2) advises,
 * so the same password typed on two keyboards that compose accents differently still matches.
 * Nothing else is changed (no trimming, no case folding).
 */
export function normalizePassword(value: string): string {
  return value.normalize('NFC')
}
