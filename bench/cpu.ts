// CPU time of a process, from /proc (Linux): tells whether the service was busy or waiting.
import { readFile } from 'node:fs/promises'

const ticksPerSecond = 100

/** User + system CPU seconds used so far by `pid`, or null where /proc is not available. */
export async function cpuSeconds(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(') ') + 2).split(' ')
    const user = Number(fields[11])
    const system = Number(fields[12])
    if (!Number.isFinite(user) || !Number.isFinite(system)) return null
    return (user + system) / ticksPerSecond
  } catch {
    return null
  }
}
