// The service under test, in its own process so the load generator does not share its event loop.
import { type ChildProcess, spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'
import { BenchError } from './config.ts'

export const adminEmail = 'bench-admin@bench.plangate.test'
export const adminPassword = 'bench-admin-password-0123'

// Production mode requires the signing key from the environment; every instance of one run shares it.
const signingKey = generateKeyPairSync('ed25519')
  .privateKey.export({ format: 'pem', type: 'pkcs8' })
  .toString()

export interface RunningService {
  baseUrl: string
  child: ChildProcess
}

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  server.close()
  if (address === null || typeof address === 'string') throw new Error('no port from the OS')
  return address.port
}

export async function startService(
  repoRoot: string,
  databaseUrl: string,
  poolSize: number,
  nodeArgs: string[] = [],
): Promise<RunningService> {
  const port = await freePort()
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/server.ts'], {
    cwd: repoRoot,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: {
      ...process.env,
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: String(poolSize),
      PORT: String(port),
      HOST: '127.0.0.1',
      APP_URL: `http://127.0.0.1:${port}`,
      JWT_PRIVATE_KEY: signingKey,
      RATE_LIMIT_PER_MINUTE: '0',
      AUTH_RATE_LIMIT_PER_MINUTE: '0',
      AUTH_IP_RATE_LIMIT_PER_MINUTE: '0',
      LOG_LEVEL: 'warn',
      ADMIN_EMAIL: adminEmail,
      ADMIN_PASSWORD: adminPassword,
      ACCESS_TOKEN_TTL: '1h',
      COOKIE_SECURE: 'false',
    },
  })
  const service = { baseUrl: `http://127.0.0.1:${port}`, child }
  await waitUntilReady(service, 60_000)
  return service
}

async function waitUntilReady(service: RunningService, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (service.child.exitCode !== null || service.child.signalCode !== null) {
      throw new BenchError(
        `the service exited during start-up (${service.child.exitCode ?? service.child.signalCode}); see its output above`,
      )
    }
    try {
      const res = await fetch(`${service.baseUrl}/ready`)
      if (res.ok) return
    } catch {
      // Not listening yet.
    }
    await sleep(200)
  }
  throw new BenchError(`the service did not become ready within ${timeoutMs / 1000} s`)
}

/** SIGTERM, then SIGKILL if it has not exited after `graceMs`. */
export async function stopProcess(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = once(child, 'exit')
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  try {
    await exited
  } finally {
    clearTimeout(timer)
  }
}
