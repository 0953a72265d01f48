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
  process.stderr.write(`plangate: ${message}\n`)
  process.exit(startupFailureExitCode)
}
