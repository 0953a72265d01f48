// Real processes for the tests of start-up and the CLI: the server as `npm start` runs it and the
// `plangate` command, on 127.0.0.1 and free ports, with every wait bounded.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { createServer } from 'node:net'
import { dirname, join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath } from 'node:url'
import { ConfigSchema } from '../../src/config.ts'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

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

/**
 * The test runner's environment without any plangate setting, plus `settings`. A developer's
 * `.env` is not read either (dotenv is pointed at a file that does not exist).
 */
export function processEnv(settings: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env }
  for (const name of Object.keys(ConfigSchema.shape)) delete env[name]
  return {
    ...env,
    DOTENV_CONFIG_PATH: join(repoRoot, 'test', 'helpers', 'no-such.env'),
    LOG_LEVEL: 'warn',
    ...settings,
  }
}

export interface Finished {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
  /** Milliseconds from spawn to exit. */
  ms: number
}

/** Runs a command to its end; killed (and the test failed) if it outlives `timeoutMs`. */
export async function run(
  command: string,
  args: string[],
  settings: Record<string, string>,
  timeoutMs = 120_000,
): Promise<Finished> {
  const started = Date.now()
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: processEnv(settings),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
  const [code, signal] = (await once(child, 'close')) as [number | null, NodeJS.Signals | null]
  clearTimeout(timer)
  if (signal === 'SIGKILL')
    throw new Error(`${command} ${args.join(' ')} did not finish within ${timeoutMs} ms`)
  return { code, signal, stdout, stderr, ms: Date.now() - started }
}

/** The `plangate` command, as an operator runs it. */
export const plangate = (args: string[], settings: Record<string, string>, timeoutMs?: number) =>
  run(process.execPath, ['bin/plangate.js', ...args], settings, timeoutMs)

export interface RunningServer {
  child: ChildProcess
  baseUrl: string
  /** Everything the process printed so far. */
  output(): { stdout: string; stderr: string }
  /** Sends `signal` and waits (bounded) for the process to exit; SIGKILL after the bound. */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<{ code: number | null; ms: number }>
}

/**
 * Starts the server — through `npm start` (`via: 'npm'`) or its command directly — and waits until
 * GET /health answers. Fails if it exits first or is not up within `timeoutMs`.
 */
export async function startServer(
  settings: Record<string, string> & { PORT: string },
  options: { via?: 'npm' | 'node'; timeoutMs?: number } = {},
): Promise<RunningServer> {
  const [command, args] =
    options.via === 'npm'
      ? ['npm', ['start', '--silent']]
      : [process.execPath, ['--import', 'tsx', 'src/server.ts']]
  const child = spawn(command, args, {
    cwd: repoRoot,
    env: processEnv({ HOST: '127.0.0.1', ...settings }),
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    stdout += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString()
  })
  const exited = once(child, 'exit')
  const server: RunningServer = {
    child,
    baseUrl: `http://127.0.0.1:${settings.PORT}`,
    output: () => ({ stdout, stderr }),
    async stop(signal = 'SIGTERM', timeoutMs = 20_000) {
      const started = Date.now()
      if (child.exitCode !== null || child.signalCode !== null) return { code: child.exitCode, ms: 0 }
      child.kill(signal)
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
      const [code] = (await exited) as [number | null]
      clearTimeout(timer)
      return { code, ms: Date.now() - started }
    },
  }
  const deadline = Date.now() + (options.timeoutMs ?? 180_000)
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(
        `the server exited during start-up (${child.exitCode ?? child.signalCode}):\n${stderr}\n${stdout}`,
      )
    }
    try {
      const res = await fetch(`${server.baseUrl}/health`)
      if (res.ok) return server
    } catch {
      // Not listening yet.
    }
    await sleep(250)
  }
  await server.stop('SIGKILL')
  throw new Error(`the server did not answer /health within ${options.timeoutMs ?? 180_000} ms:\n${stderr}`)
}

/** Whether a process with this pid still exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
