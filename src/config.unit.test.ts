import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig, parseDuration } from './config.ts'

const pem = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString()

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env)
  } catch (error) {
    if (error instanceof ConfigError) return error.problems
    throw error
  }
  return []
}

describe('configuration', () => {
  it('defaults to the embedded mode on 127.0.0.1:8000', () => {
    const config = loadConfig({})
    expect(config).toMatchObject({
      PORT: 8000,
      HOST: '127.0.0.1',
      DATA_DIR: './data',
      ACCESS_TOKEN_TTL: 900,
      REFRESH_TOKEN_TTL: 30 * 86400,
      RATE_LIMIT_PER_MINUTE: 100,
      AUTH_RATE_LIMIT_PER_MINUTE: 10,
      AUTH_IP_RATE_LIMIT_PER_MINUTE: 20,
      PASSWORD_MIN_LENGTH: 10,
      cookieSecure: false,
      trustProxy: false,
    })
    expect(config.DATABASE_URL).toBeUndefined()
  })

  it('leaves /metrics off without METRICS_TOKEN and refuses a short one', () => {
    expect(loadConfig({}).METRICS_TOKEN).toBeUndefined()
    expect(loadConfig({ METRICS_TOKEN: '  ' }).METRICS_TOKEN).toBeUndefined()
    expect(loadConfig({ METRICS_TOKEN: 'a-long-enough-token' }).METRICS_TOKEN).toBe('a-long-enough-token')
    expect(() => loadConfig({ METRICS_TOKEN: 'short' })).toThrow(/METRICS_TOKEN: at least 16 characters/)
  })

  it("reads a worker's metrics port, unset when empty, and refuses one that is not a port", () => {
    expect(loadConfig({}).WORKER_METRICS_PORT).toBeUndefined()
    expect(loadConfig({ WORKER_METRICS_PORT: ' ' }).WORKER_METRICS_PORT).toBeUndefined()
    expect(loadConfig({ WORKER_METRICS_PORT: '9464' }).WORKER_METRICS_PORT).toBe(9464)
    for (const bad of ['metrics', '70000', '-1', '94.64'])
      expect(() => loadConfig({ WORKER_METRICS_PORT: bad }), bad).toThrow(/WORKER_METRICS_PORT/)
  })

  it('lists every bad variable at once', () => {
    let error: unknown
    try {
      loadConfig({
        PORT: 'eighty',
        DATABASE_URL: 'mysql://nope',
        ACCESS_TOKEN_TTL: 'soon',
        ADMIN_PASSWORD: 'short',
        RATE_LIMIT_PER_MINUTE: '-1',
        STRIPE_SECRET_KEY: 'sk_test_x',
      })
    } catch (caught) {
      error = caught
    }
    expect(error).toBeInstanceOf(ConfigError)
    const problems = (error as ConfigError).problems.join('\n')
    for (const name of [
      'PORT',
      'DATABASE_URL',
      'ACCESS_TOKEN_TTL',
      'ADMIN_EMAIL',
      'ADMIN_PASSWORD',
      'RATE_LIMIT_PER_MINUTE',
      'STRIPE_WEBHOOK_SECRET',
    ]) {
      expect(problems).toContain(name)
    }
  })

  it('parses durations, CORS origins, secure cookies in production and TRUST_PROXY forms', () => {
    expect(parseDuration('15m')).toBe(900)
    expect(parseDuration('30d')).toBe(2_592_000)
    expect(parseDuration('45')).toBe(45)
    expect(parseDuration('1w')).toBeUndefined()
    const config = loadConfig({
      NODE_ENV: 'production',
      APP_URL: 'https://plangate.example',
      JWT_PRIVATE_KEY: pem,
      CORS_ORIGINS: 'https://a.example, https://b.example',
      TRUST_PROXY: '10.0.0.0/8,127.0.0.1',
    })
    expect(config.CORS_ORIGINS).toEqual(['https://a.example', 'https://b.example'])
    expect(config.cookieSecure).toBe(true)
    expect(config.trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1'])
    const hops = loadConfig({ TRUST_PROXY: '1' }).trustProxy
    expect(typeof hops === 'function' && hops('10.0.0.1', 0) && !hops('10.0.0.1', 1)).toBe(true)
  })

  it('holds ADMIN_PASSWORD to PASSWORD_MIN_LENGTH, the one password minimum', () => {
    const problemsOf = (env: Record<string, string>) => {
      try {
        loadConfig({ ADMIN_EMAIL: 'ops@example.test', ...env })
        return []
      } catch (error) {
        return (error as ConfigError).problems
      }
    }
    expect(problemsOf({ ADMIN_PASSWORD: 'ten-chars!' })).toEqual([])
    expect(problemsOf({ ADMIN_PASSWORD: 'nine-char' })).toEqual([
      'ADMIN_PASSWORD: must be at least 10 characters (PASSWORD_MIN_LENGTH)',
    ])
    expect(problemsOf({ ADMIN_PASSWORD: 'fifteen-chars!!', PASSWORD_MIN_LENGTH: '16' })).toEqual([
      'ADMIN_PASSWORD: must be at least 16 characters (PASSWORD_MIN_LENGTH)',
    ])
  })

  it('defaults APP_URL to the host and port actually served, so links and the token issuer follow PORT', () => {
    expect(loadConfig({}).APP_URL).toBe('http://127.0.0.1:8000')
    expect(loadConfig({ PORT: '9123' }).APP_URL).toBe('http://127.0.0.1:9123')
    expect(loadConfig({ HOST: '0.0.0.0', PORT: '9124' }).APP_URL).toBe('http://localhost:9124')
    expect(loadConfig({ HOST: '::1', PORT: '9125' }).APP_URL).toBe('http://[::1]:9125')
    expect(loadConfig({ PORT: '9126', APP_URL: 'https://app.example' }).APP_URL).toBe('https://app.example')
    expect(problemsOf({ PORT: '0' })).toEqual([expect.stringMatching(/^APP_URL: required when PORT is 0/)])
  })

  it('refuses to start in production without an explicit APP_URL and signing key', () => {
    const problems = problemsOf({ NODE_ENV: 'production' })
    expect(problems).toEqual([
      expect.stringMatching(/^APP_URL: required when NODE_ENV=production/),
      expect.stringMatching(/^JWT_PRIVATE_KEY: required when NODE_ENV=production/),
    ])
    expect(
      problemsOf({ NODE_ENV: 'production', APP_URL: 'https://plangate.example', JWT_PRIVATE_KEY: pem }),
    ).toEqual([])
  })

  it('hashes passwords at OWASP cost by default, and refuses the cheap test cost in production', () => {
    expect(loadConfig({}).PASSWORD_HASH_COST).toBe('owasp')
    expect(loadConfig({ NODE_ENV: 'test', PASSWORD_HASH_COST: 'test' }).PASSWORD_HASH_COST).toBe('test')
    const production = { NODE_ENV: 'production', APP_URL: 'https://plangate.example', JWT_PRIVATE_KEY: pem }
    expect(problemsOf({ ...production, PASSWORD_HASH_COST: 'owasp' })).toEqual([])
    expect(problemsOf({ ...production, PASSWORD_HASH_COST: 'test' })).toEqual([
      expect.stringMatching(/^PASSWORD_HASH_COST: `test` is refused when NODE_ENV=production/),
    ])
    expect(problemsOf({ PASSWORD_HASH_COST: 'cheap' })).toEqual([
      expect.stringMatching(/^PASSWORD_HASH_COST: /),
    ])
  })

  it('names JWT_PRIVATE_KEY when it is not a readable PEM private key, and reads one with escaped newlines', () => {
    expect(problemsOf({ JWT_PRIVATE_KEY: 'not a key' })).toEqual([
      expect.stringMatching(/^JWT_PRIVATE_KEY: expected a PEM private key/),
    ])
    const truncated = pem.slice(0, 60)
    expect(problemsOf({ JWT_PRIVATE_KEY: `${truncated}\n-----END PRIVATE KEY-----` })).toEqual([
      expect.stringMatching(/^JWT_PRIVATE_KEY: not a readable PEM private key/),
    ])
    expect(problemsOf({ JWT_PRIVATE_KEY: pem.replace(/\n/g, '\\n') })).toEqual([])
  })

  it('bounds the database connect retries at 30 s by default, and takes 0 for a single attempt', () => {
    expect(loadConfig({}).DATABASE_CONNECT_TIMEOUT_SECONDS).toBe(30)
    expect(loadConfig({ DATABASE_CONNECT_TIMEOUT_SECONDS: '0' }).DATABASE_CONNECT_TIMEOUT_SECONDS).toBe(0)
    expect(problemsOf({ DATABASE_CONNECT_TIMEOUT_SECONDS: 'soon' })).toEqual([
      expect.stringMatching(/^DATABASE_CONNECT_TIMEOUT_SECONDS: /),
    ])
  })

  it('gives a refresh token a 10 s reuse interval by default, 0 to 60 s allowed', () => {
    expect(loadConfig({}).REFRESH_REUSE_INTERVAL_SECONDS).toBe(10)
    expect(loadConfig({ REFRESH_REUSE_INTERVAL_SECONDS: '0' }).REFRESH_REUSE_INTERVAL_SECONDS).toBe(0)
    expect(loadConfig({ REFRESH_REUSE_INTERVAL_SECONDS: '60' }).REFRESH_REUSE_INTERVAL_SECONDS).toBe(60)
    for (const value of ['61', '-1', '2.5', 'soon']) {
      expect(problemsOf({ REFRESH_REUSE_INTERVAL_SECONDS: value })).toEqual([
        expect.stringMatching(/^REFRESH_REUSE_INTERVAL_SECONDS: /),
      ])
    }
  })
})
