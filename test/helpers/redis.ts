// A private Redis for the tests of the shared rate limits: Debian's `redis-server` on 127.0.0.1 and
// a free port, without persistence, that a test can stop, freeze and start again. Without
// redis-server those tests are skipped, except under CI=true, where a missing server fails the run.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { accessSync, constants } from 'node:fs'
import { join } from 'node:path'
import { freePort } from './process.ts'

/** The redis-server binary on PATH, or null when there is none (an error under CI=true). */
export function redisServerPath(): string | null {
  for (const dir of (process.env.PATH ?? '').split(':').filter(Boolean)) {
    const candidate = join(dir, 'redis-server')
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {
      // not in this directory
    }
  }
  if (process.env.CI === 'true') {
    throw new Error(
      'CI=true needs redis-server: apt-get install redis-server (scripts/dev-services.sh --redis)',
    )
  }
  return null
}

export interface RedisServer {
  /** redis://127.0.0.1:<port>, the same across restarts. */
  url: string
  /** Stops the server (its counters are lost: it keeps nothing on disk). */
  stop(): Promise<void>
  /** Starts it again on the same port. */
  start(): Promise<void>
  /** Freezes the process (SIGSTOP): connections stay open and nothing answers, as on a stuck server. */
  freeze(): void
  /** Lets a frozen server run again (SIGCONT). */
  thaw(): void
}

/** Starts a redis-server on a free port; stop it with `stop()` in the test's teardown. */
export async function startRedisServer(binary: string): Promise<RedisServer> {
  const port = await freePort()
  let child: ChildProcess | undefined

  const start = async () => {
    if (child) throw new Error('redis-server is already running')
    const started = spawn(
      binary,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    child = started
    let output = ''
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${output}`)), 10_000)
      started.stdout?.on('data', (chunk: Buffer) => {
        output += chunk.toString()
        if (output.includes('Ready to accept connections')) {
          clearTimeout(timer)
          resolve()
        }
      })
      started.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`redis-server exited with ${code}:\n${output}`))
      })
    })
    started.stderr?.resume()
    await ready
  }

  const stop = async () => {
    const running = child
    if (!running) return
    child = undefined
    if (running.exitCode === null && running.signalCode === null) {
      running.kill('SIGCONT')
      running.kill('SIGKILL')
      await once(running, 'exit')
    }
  }

  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    start,
    stop,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
  }
}
