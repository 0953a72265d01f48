// Password policy at registration, reset and change: a minimum length, and zxcvbn's estimate of
// how guessable the password is (it knows tens of thousands of common and breached passwords,
// names, keyboard patterns and dates; offline). Score 3 of 4 is "safely unguessable" for an
// online attack.
import { ZxcvbnFactory } from '@zxcvbn-ts/core'
import * as common from '@zxcvbn-ts/language-common'
import * as english from '@zxcvbn-ts/language-en'
import { AppError } from '../../core/errors.ts'
import { normalizePassword } from './credentials.ts'
import { passwordLengthRule } from './schemas.ts'

const minimumScore = 3

const zxcvbn = new ZxcvbnFactory({
  dictionary: { ...common.dictionary, ...english.dictionary },
  graphs: common.adjacencyGraphs,
  translations: english.translations,
})

/**
 * Throws 400 validation_failed (at `location`) when the password is too short or too guessable.
 * `userInputs` (email, name, username) count as guessable words.
 */
export function assertStrongPassword(
  password: string,
  minLength: number,
  userInputs: (string | null | undefined)[] = [],
  location = 'body.password',
): void {
  const invalid = (message: string) =>
    new AppError('validation_failed', message, { errors: [{ location, message }] })
  const normalized = normalizePassword(password)
  if (normalized.length < minLength) throw invalid(passwordLengthRule(minLength))
  const inputs = userInputs.flatMap((input) => (input ? [input, ...input.split(/[@._\s-]+/)] : []))
  const result = zxcvbn.check(normalized, inputs)
  if (result.score < minimumScore) {
    const hint =
      result.feedback.warning ?? result.feedback.suggestions[0] ?? 'use a longer, less common password'
    throw invalid(`too easy to guess: ${hint}`.replace(/\.$/, ''))
  }
}
