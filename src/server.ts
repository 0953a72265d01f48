// Process entry: config → dependencies → buildApp → listen; graceful shutdown on signals.
import closeWithGrace from 'close-with-grace'
import 'dotenv/config'
import { buildApp } from './app.ts'
import { configOrExit } from './config.ts'
import { createLogger } from './logging.ts'
import { closeDeps, createDeps } from './wiring.ts'

async function main(): Promise<void> {
  const config = configOrExit()
  const log = createLogger(config.LOG_LEVEL)
  const deps = await createDeps(config, log)
  const app = await buildApp(deps)
  await deps.jobs.start(deps, { work: config.JOBS_IN_PROCESS })

  closeWithGrace({ delay: 10_000 }, async ({ signal, err }) => {
    if (err) log.error({ err }, 'shutting down after an error')
    else log.info({ signal }, 'shutting down')
    // Stop accepting connections and let in-flight requests finish, then let running jobs finish.
    await app.close()
    await closeDeps(deps)
  })

  await app.listen({ port: config.PORT, host: config.HOST })
  log.info(
    {
      database: deps.database.kind,
      jobs: config.JOBS_IN_PROCESS ? 'in-process' : 'workers',
      docs: `http://${config.HOST}:${config.PORT}/docs`,
    },
    `plangate listening on ${config.HOST}:${config.PORT}`,
  )
}

await main()
