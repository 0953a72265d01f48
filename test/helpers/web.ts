// The built web UI for tests: built once per run when web/dist is missing or older than its sources.
import { execFile } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { repoRoot } from './process.ts'

const sources = ['web/src', 'web/index.html', 'web/vite.config.ts', 'packages/sdk/src']

function newestMtime(path: string): number {
  const stat = statSync(path)
  if (!stat.isDirectory()) return stat.mtimeMs
  let newest = stat.mtimeMs
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)))
  return newest
}

let building: Promise<void> | undefined

/** Builds web/dist unless it is newer than every source file. */
export function ensureWebBuild(): Promise<void> {
  building ??= (async () => {
    const index = join(repoRoot, 'web/dist/index.html')
    const sourcesAt = Math.max(...sources.map((source) => newestMtime(join(repoRoot, source))))
    if (existsSync(index) && statSync(index).mtimeMs > sourcesAt) return
    const vite = join(repoRoot, 'node_modules/vite/bin/vite.js')
    await promisify(execFile)(
      process.execPath,
      [vite, 'build', '--config', 'web/vite.config.ts', '--logLevel', 'warn'],
      {
        cwd: repoRoot,
      },
    )
  })()
  return building
}
