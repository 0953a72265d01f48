// One process at a time on an embedded (PGlite) data directory. PGlite is not a server: a second
// process opening the same files would work on its own copy of the database in memory and the
// two would overwrite each other's writes. A lock file holding the owner's pid makes the second
// process refuse instead; the lock of a process that died without releasing it is taken over.
import { closeSync, linkSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { StartupError } from './startup.ts'

/** Thrown when another live process holds the data directory. */
export class DataDirLockedError extends StartupError {
  constructor(
    readonly dataDir: string,
    readonly pid: number,
  ) {
    super(
      `DATA_DIR: ${dataDir} is in use by another plangate process (pid ${pid}); stop it first, ` +
        'or use PostgreSQL (DATABASE_URL) to run commands beside a running server',
    )
  }
}

// Locks held by this process, so opening the same directory twice in one process is refused too.
const held = new Set<string>()

function readPid(path: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path, 'utf8').trim(), 10)
    return Number.isInteger(pid) && pid > 0 ? pid : undefined
  } catch {
    return undefined
  }
}

/** Whether a process with this pid exists (EPERM: it exists but belongs to another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/**
 * Whether the pid in a lock file stands for a live holder. Our own pid in a file we did not
 * write is a leftover of an earlier run (containers restart with the same pids).
 */
function holderAlive(lockPath: string, pid: number | undefined): pid is number {
  if (pid === undefined) return false
  if (pid === process.pid) return held.has(lockPath)
  return isAlive(pid)
}

/**
 * Takes the lock file `lockPath` for this process, or throws DataDirLockedError naming the live
 * holder. Returns the function that releases it (also released when the process exits).
 */
export function lockDataDir(lockPath: string, dataDir: string): () => void {
  for (let attempt = 0; attempt < 5; attempt++) {
    let fd: number
    try {
      // `wx` creates the file only if it does not exist: of two processes, one wins.
      fd = openSync(lockPath, 'wx', 0o644)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const pid = readPid(lockPath)
      if (holderAlive(lockPath, pid)) throw new DataDirLockedError(dataDir, pid)
      takeOverStale(lockPath, pid, dataDir)
      continue
    }
    try {
      writeSync(fd, `${process.pid}\n`)
    } finally {
      closeSync(fd)
    }
    held.add(lockPath)
    const onExit = () => release()
    process.once('exit', onExit)
    let released = false
    function release(): void {
      if (released) return
      released = true
      held.delete(lockPath)
      process.removeListener('exit', onExit)
      // Only remove the file while it is still ours.
      if (readPid(lockPath) === process.pid) {
        try {
          unlinkSync(lockPath)
        } catch {
          // Already gone.
        }
      }
    }
    return release
  }
  throw new StartupError(`DATA_DIR: could not take the lock file ${lockPath}; remove it if no plangate runs`)
}

/**
 * Moves a stale lock aside (a rename succeeds for one process only), then checks that what was
 * moved is the stale lock that was seen; a fresh lock another process took meanwhile is put back.
 */
function takeOverStale(lockPath: string, stalePid: number | undefined, dataDir: string): void {
  const aside = `${lockPath}.${process.pid}.stale`
  try {
    renameSync(lockPath, aside)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return // someone else moved it: retry
    throw error
  }
  const movedPid = readPid(aside)
  if (movedPid !== stalePid && holderAlive(lockPath, movedPid)) {
    try {
      linkSync(aside, lockPath)
    } catch {
      // A third process locked meanwhile; it holds the lock now.
    }
    unlinkSync(aside)
    throw new DataDirLockedError(dataDir, movedPid)
  }
  unlinkSync(aside)
}
