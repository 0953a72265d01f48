// The embedded data directory's lock: one live process at a time, stale locks taken over.
import { type ChildProcess, spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { DataDirLockedError, lockDataDir } from './data-dir-lock.ts'

const lockIn = () => {
  const dir = mkdtempSync(join(tmpdir(), 'plangate-lock-'))
  return { dir, path: join(dir, 'pglite.lock') }
}

/** Another live process whose pid can stand in a lock file. */
async function otherProcess(): Promise<ChildProcess & { pid: number }> {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' })
  await once(child, 'spawn')
  if (child.pid === undefined) throw new Error('no pid')
  return child as ChildProcess & { pid: number }
}

const children: ChildProcess[] = []
afterEach(() => {
  for (const child of children.splice(0)) child.kill('SIGKILL')
})

describe('data directory lock', () => {
  it('holds the pid of its owner, refuses a second opener in the same process, and is removed on release', () => {
    const { dir, path } = lockIn()
    const release = lockDataDir(path, dir)
    expect(readFileSync(path, 'utf8').trim()).toBe(String(process.pid))
    expect(() => lockDataDir(path, dir)).toThrow(DataDirLockedError)
    release()
    expect(existsSync(path)).toBe(false)
    lockDataDir(path, dir)()
  })

  it('refuses while another live process holds it, naming DATA_DIR and that pid, and takes it over once that process is dead', async () => {
    const { dir, path } = lockIn()
    const holder = await otherProcess()
    children.push(holder)
    writeFileSync(path, `${holder.pid}\n`)
    let refusal: unknown
    try {
      lockDataDir(path, dir)
    } catch (error) {
      refusal = error
    }
    expect(refusal).toBeInstanceOf(DataDirLockedError)
    expect((refusal as DataDirLockedError).pid).toBe(holder.pid)
    expect((refusal as Error).message).toMatch(
      new RegExp(`^DATA_DIR: .* in use by another plangate process \\(pid ${holder.pid}\\)`),
    )
    expect(readFileSync(path, 'utf8').trim()).toBe(String(holder.pid))

    holder.kill('SIGKILL')
    await once(holder, 'exit')
    const release = lockDataDir(path, dir)
    expect(readFileSync(path, 'utf8').trim()).toBe(String(process.pid))
    release()
  })

  it('takes over a lock left by an earlier run with our own pid (a restarted container) or with no pid', () => {
    const { dir, path } = lockIn()
    writeFileSync(path, `${process.pid}\n`)
    lockDataDir(path, dir)()
    writeFileSync(path, 'garbage')
    const release = lockDataDir(path, dir)
    expect(readFileSync(path, 'utf8').trim()).toBe(String(process.pid))
    release()
  })

  it('never removes a lock that another process holds by the time it releases', async () => {
    const { dir, path } = lockIn()
    const release = lockDataDir(path, dir)
    const other = await otherProcess()
    children.push(other)
    writeFileSync(path, `${other.pid}\n`)
    release()
    expect(readFileSync(path, 'utf8').trim()).toBe(String(other.pid))
  })
})
