// Operator commands: `plangate serve | worker | migrate | create-admin | keys …` on the database,
// and `plangate plans pull | diff | push` through the HTTP API (pricing as code).
// Exit status: 0 done, 1 refused or could not start (one line on stderr says why), 2 bad usage,
// 3 `plans diff --exit-code` found changes.
import 'dotenv/config'
import { readFileSync } from 'node:fs'
import { type ParseArgsConfig, parseArgs } from 'node:util'

const usage = `usage: plangate <command>

commands:
  serve                          run the API (same as npm start)
  worker                         run background jobs only (any number of workers; PostgreSQL)
  migrate                        apply pending migrations and seed plans, then exit
  create-admin <email> [pass]    create a site admin, or promote an existing user
                                 (a password is generated and printed when omitted)
  keys create --name <name> --scopes <a,b> [--account <id>] [--expires <date>]
                                 make an API key (a site key, or an account's) and print
                                 its secret once
  keys list [--account <id>]     list the site keys (or an account's keys), never the secrets
  keys revoke <id>               revoke a key: the next request with it is refused
  plans pull [--output <file>]   the server's plans as YAML (on stdout without --output)
  plans diff <file> [--prune] [--exit-code]
                                 what a push of the file would change, field by field
  plans push <file> [--prune] [--dry-run]
                                 make the server's plans match the file through the API,
                                 one line per change applied (a second push changes nothing)

options:
  -h, --help                     show this help
  -v, --version                  show the version

migrate, create-admin and keys work on the database. With the embedded database (no
DATABASE_URL) only one process may use DATA_DIR at a time: stop the server before running them,
or use PostgreSQL (while the server runs, site admins make keys with POST /v1/admin/api-keys).

plans commands call the API at PLANGATE_URL with PLANGATE_API_KEY, a site key with plans:write.
--prune retires the plans the server has and the file does not list (else they are left alone);
--dry-run shows the changes and sends nothing.

exit status: 0 done; 1 refused or failed (a bad plan file: each problem as file:line:col);
2 bad usage or a missing setting; 3 plans diff --exit-code found changes.
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
  if (command === 'plans') return plans(args)
  if (command === 'keys') return keys(args)
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

/** parseArgs with its complaints (an unknown option, a missing value) as usage errors. */
function parse<const O extends NonNullable<ParseArgsConfig['options']>>(
  args: string[],
  options: O,
  positionals: number,
  what: string,
) {
  const parsed = (() => {
    try {
      return parseArgs({ args, options, allowPositionals: true, strict: true })
    } catch (error) {
      // Node's advice about `--` after an unknown option is noise here.
      throw new UsageError(`${what}: ${(error as Error).message.split('. To specify')[0]}`)
    }
  })()
  if (parsed.positionals.length !== positionals)
    throw new UsageError(
      `${what} takes ${positionals === 0 ? 'no arguments' : `${positionals} argument`} besides its options`,
    )
  return parsed
}

async function plans(argv: string[]): Promise<void> {
  const [sub, ...args] = argv
  const commands = await import('./plan-commands.ts')
  const io = { out: (text: string) => process.stdout.write(text) }
  if (sub === 'pull') {
    const { values } = parse(args, { output: { type: 'string', short: 'o' } }, 0, 'plans pull')
    await commands.pullPlans(commands.apiClient(process.env), values.output, io)
  } else if (sub === 'diff') {
    const { values, positionals } = parse(
      args,
      { prune: { type: 'boolean' }, 'exit-code': { type: 'boolean' } },
      1,
      'plans diff <file>',
    )
    const api = commands.apiClient(process.env)
    const changed = await commands.diffPlanFile(
      api,
      positionals[0] ?? '',
      { prune: values.prune === true },
      io,
    )
    if (changed && values['exit-code']) process.exitCode = commands.driftExitCode
  } else if (sub === 'push') {
    const { values, positionals } = parse(
      args,
      { prune: { type: 'boolean' }, 'dry-run': { type: 'boolean' } },
      1,
      'plans push <file>',
    )
    const api = commands.apiClient(process.env)
    await commands.pushPlanFile(
      api,
      positionals[0] ?? '',
      { prune: values.prune === true, dryRun: values['dry-run'] === true },
      io,
    )
  } else
    throw new UsageError(
      sub === undefined ? 'plans needs pull, diff or push' : `unknown plans command "${sub}"`,
    )
}

async function keys(argv: string[]): Promise<void> {
  const [sub, ...args] = argv
  if (sub === 'create') {
    const { values } = parse(
      args,
      {
        name: { type: 'string' },
        scopes: { type: 'string' },
        account: { type: 'string' },
        expires: { type: 'string' },
      },
      0,
      'keys create',
    )
    if (values.name === undefined || values.scopes === undefined)
      throw new UsageError('keys create needs --name and --scopes')
    const { loadConfig } = await import('./config.ts')
    const commands = await import('./commands.ts')
    await commands.createApiKey(loadConfig(), {
      name: values.name,
      scopes: values.scopes,
      account: values.account,
      expires: values.expires,
    })
  } else if (sub === 'list') {
    const { values } = parse(args, { account: { type: 'string' } }, 0, 'keys list')
    const { loadConfig } = await import('./config.ts')
    const commands = await import('./commands.ts')
    await commands.listApiKeys(loadConfig(), values.account)
  } else if (sub === 'revoke') {
    const { positionals } = parse(args, {}, 1, 'keys revoke <id>')
    const { loadConfig } = await import('./config.ts')
    const commands = await import('./commands.ts')
    await commands.revokeApiKey(loadConfig(), positionals[0] ?? '')
  } else
    throw new UsageError(
      sub === undefined ? 'keys needs create, list or revoke' : `unknown keys command "${sub}"`,
    )
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
