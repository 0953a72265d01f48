// The web UI, served by the API's own process so it shares the API's origin (the refresh cookie
// and CORS stay simple). `npm run build:web` (run by `npm ci` through `prepare`) writes web/dist:
// an index.html and content-hashed assets. The app's pages answer index.html; /assets/* are cached
// for a year (their names change with their content); everything else, /v1 included, keeps the
// API's problem+json 404.
import { existsSync, readFileSync } from 'node:fs'
import fastifyStatic from '@fastify/static'
import type { FastifyPluginAsync, FastifyReply } from 'fastify'

/** The built UI (web/dist at the repository's root). */
export const webDistDir = new URL('../../../web/dist/', import.meta.url)

/** The paths the UI routes itself: sign-in pages (the emails link to them), the portal, the dashboard. */
export const appPaths = [
  '/',
  '/sign-in',
  '/sign-up',
  '/verify-email',
  '/forgot-password',
  '/reset-password',
  '/accept-invitation',
  '/app',
  '/app/*',
  '/admin',
  '/admin/*',
]

/**
 * The page's policy: scripts, styles, fonts and images from this origin only, API calls to it, no
 * framing. Stricter than the API's default (no 'unsafe-inline' styles): the build has no inline code.
 */
export const pageCsp = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

const year = 365 * 24 * 60 * 60

export const webRoutes =
  (dir: URL = webDistDir): FastifyPluginAsync =>
  async (app) => {
    const indexFile = new URL('index.html', dir)
    if (!existsSync(indexFile)) {
      app.log.warn('the web UI is not built (npm run build:web); its pages answer 503')
      for (const url of appPaths) {
        app.get(url, { schema: { hide: true }, config: { rateLimit: false } }, (_req, reply) =>
          reply
            .code(503)
            .type('text/plain; charset=utf-8')
            .send('The web UI is not built. Run `npm run build:web`, then reload.\n'),
        )
      }
      return
    }
    const index = readFileSync(indexFile)
    const page = (reply: FastifyReply) =>
      reply
        .header('cache-control', 'no-cache')
        .header('content-security-policy', pageCsp)
        .type('text/html; charset=utf-8')
        .send(index)
    for (const url of appPaths) {
      app.get(url, { schema: { hide: true }, config: { rateLimit: false } }, (_req, reply) => page(reply))
    }

    // Only reply.sendFile (path checks and ranges by @fastify/static); the route is ours so that it
    // can leave the rate limiter out: an asset costs less than counting it.
    await app.register(fastifyStatic, { root: new URL('assets/', dir).pathname, serve: false })
    app.get<{ Params: { '*': string } }>(
      '/assets/*',
      { schema: { hide: true }, config: { rateLimit: false } },
      (req, reply) =>
        reply.sendFile(req.params['*'], { immutable: true, maxAge: year * 1000, cacheControl: true }),
    )
  }
