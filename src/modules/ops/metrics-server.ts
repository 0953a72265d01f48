// `GET /metrics` for a process that serves no API: `plangate worker` runs jobs, so its job,
// delivery and Stripe metrics are only seen if it serves them itself (WORKER_METRICS_PORT). The
// same bearer as the API's /metrics (METRICS_TOKEN, compared as SHA-256 digests in constant time);
// nothing else is served.
import { createServer, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { digestsEqual, sha256 } from '../../core/crypto.ts'
import { type ErrorCode, problemFor } from '../../core/errors.ts'
import type { Metrics } from './metrics.ts'

export interface MetricsServer {
  /** The port it listens on (the one asked for, or the one chosen for port 0). */
  port: number
  close(): Promise<void>
}

function problem(res: ServerResponse, code: ErrorCode, detail: string, headers: Record<string, string> = {}) {
  const body = problemFor(code, detail)
  res.writeHead(body.status, { 'content-type': 'application/problem+json', ...headers })
  res.end(JSON.stringify(body))
}

export async function serveMetrics(
  metrics: Pick<Metrics, 'registry'>,
  options: { host: string; port: number; token: string },
): Promise<MetricsServer> {
  const digest = sha256(options.token)
  const server = createServer((req, res) => {
    req.resume()
    const path = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' || path !== '/metrics') {
      problem(res, 'not_found', `No route for ${req.method} ${path}`)
      return
    }
    const token = /^Bearer +(\S+)$/i.exec(req.headers.authorization ?? '')?.[1]
    if (!token || !digestsEqual(sha256(token), digest)) {
      problem(res, 'unauthorized', 'Send the METRICS_TOKEN as a bearer token', {
        'www-authenticate': 'Bearer realm="metrics"',
      })
      return
    }
    metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'content-type': metrics.registry.contentType, 'cache-control': 'no-store' })
        res.end(text)
      },
      () => problem(res, 'internal_error', 'The metrics could not be collected'),
    )
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, options.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeIdleConnections()
      }),
  }
}
