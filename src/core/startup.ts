// Start-up failures an operator can fix (a bad setting, an unreachable database, a data directory
// in use) end the process with one line naming the setting and the problem, never a stack trace.
import { ConfigError } from '../config.ts'

/**
 * A failure the operator can fix, with a one-line message that starts with what to fix: a
 * setting (`DATABASE_URL: …`) or a command's argument (`password: …`).
 */
export class StartupError extends Error {
  override name = 'StartupError'
}

/** Exit status of a process that could not start (bad setting, database unreachable, …). */
export const startupFailureExitCode = 1

/**
 * A command's failure with its own exit status: 2 for bad usage (a missing setting, an unknown
 * scope), 1 otherwise. `details` are printed first, one per line, as they are (a bad file's
 * `file:line:col: message` lines).
 */
export class CommandError extends StartupError {
  override name = 'CommandError'
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = startupFailureExitCode,
    readonly details: readonly string[] = [],
  ) {
    super(message)
  }
}

/** The errors whose message is meant for the operator as it is (one line per problem). */
function operatorMessage(error: unknown): string | undefined {
  if (error instanceof StartupError) return error.message
  // One line per bad variable.
  if (error instanceof ConfigError) return error.problems.join('\nplangate: ')
  return undefined
}

/** Prints `plangate: <message>` for an operator-fixable failure and exits; anything else is rethrown. */
export function exitOnStartupError(error: unknown): never {
  const message = operatorMessage(error)
  if (message === undefined) throw error
  const details = error instanceof CommandError ? error.details.map((line) => `${line}\n`).join('') : ''
  process.stderr.write(`${details}plangate: ${message}\n`)
  process.exit(error instanceof CommandError ? error.exitCode : startupFailureExitCode)
}
