// Operator commands: `plangate serve | worker | migrate | create-admin <email> [password]`.
// Exit status: 0 done, 1 refused or could not start (one line on stderr says why), 2 bad usage.
import 'dotenv/config'
import { readFileSync } from 'node:fs'

const usage = `usage: plangate <command>

commands:
  serve                          run the API (same as npm start)
  worker                         run background jobs only (any number of workers; PostgreSQL)
  migrate                        apply pending migrations and seed plans, then exit
  create-admin <email> [pass]    create a site admin, or promote an existing user
                                 (a password is generated and printed when omitted)

options:
  -h, --help                     show this help
  -v, --version                  show the version

With the embedded database (no DATABASE_URL) only one process may use DATA_DIR at a time:
stop the server before running migrate or create-admin, or use PostgreSQL.
`

/** A command the user got wrong: printed with the usage, exit status 2. */
class UsageError extends Error {}

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
    version: string
  }
  return pkg.version
}

async function run(argv: string[]): Promise<void> {
  const [command, ...args] = argv
  if (command === undefined) throw new UsageError('no command given')
  if (argv.includes('--help') || argv.includes('-h') || command === 'help') {
    process.stdout.write(usage)
    return
  }
  if (command === '--version' || command === '-v' || command === 'version') {
    process.stdout.write(`plangate ${version()}\n`)
    return
  }
  if (command === 'serve') {
    await import('./server.ts')
    return
  }
  if (!['worker', 'migrate', 'create-admin'].includes(command))
    throw new UsageError(`unknown command "${command}"`)
  if (command === 'create-admin' && (args.length < 1 || args.length > 2))
    throw new UsageError('create-admin takes an email and an optional password')
  if (command !== 'create-admin' && args.length > 0) throw new UsageError(`${command} takes no arguments`)

  const { loadConfig } = await import('./config.ts')
  const commands = await import('./commands.ts')
  const config = loadConfig()
  if (command === 'worker') await commands.runWorker(config)
  else if (command === 'migrate') await commands.migrate(config)
  else await commands.createAdmin(config, args[0] ?? '', args[1])
}

try {
  await run(process.argv.slice(2))
} catch (error) {
  if (error instanceof UsageError) {
    process.stderr.write(`plangate: ${error.message}\n\n${usage}`)
    process.exit(2)
  }
  const { exitOnStartupError } = await import('./core/startup.ts')
  exitOnStartupError(error)
}
