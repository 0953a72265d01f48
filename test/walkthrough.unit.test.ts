// The README's "Try it" walkthrough is the script CI runs against a started server
// (.ci/walkthrough → npm run walkthrough): one copy, read from the README between its markers.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { repoRoot } from './helpers/process.ts'

const extracted = () =>
  execFileSync('bash', ['scripts/walkthrough.sh', '--print'], { cwd: repoRoot, encoding: 'utf8' })

describe('README walkthrough', () => {
  it('is extracted from the README as a bash script that stops at the first failure, with the port in one variable', () => {
    const script = extracted()
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8')
    expect(readme).toContain(script.trim())
    expect(script.split('\n').slice(0, 3)).toEqual([
      '#!/usr/bin/env bash',
      expect.stringContaining('Needs curl and jq'),
      'set -euo pipefail',
    ])
    expect(script).toMatch(/^PORT=\$\{PORT:-8000\}$/m)
    // Syntax only: running it needs a server, which .ci/walkthrough starts.
    execFileSync('bash', ['-n'], { input: script })
  })

  it('runs in CI against a started server, and as npm run walkthrough', () => {
    expect(readFileSync(join(repoRoot, '.ci/run'), 'utf8')).toMatch(/^bash \.ci\/walkthrough$/m)
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as {
      scripts: Record<string, string>
    }
    expect(pkg.scripts.walkthrough).toBe('bash scripts/walkthrough.sh')
  })
})
