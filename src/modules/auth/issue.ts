// What every sign-in route shares: the response that hands out an access token plus a refresh
// token (body and httpOnly cookie).
import type { FastifyReply } from 'fastify'
import type { Deps } from '../../deps.ts'
import type { TokenResponse } from './schemas.ts'
import type { IssuedRefresh } from './sessions.ts'

export const refreshCookie = 'refresh_token'
export const refreshCookiePath = '/v1/auth'

/** Signs an access token for a session and sets the refresh cookie; returns the token response body. */
export async function sendTokens(
  deps: Deps,
  reply: FastifyReply,
  issued: IssuedRefresh,
): Promise<TokenResponse> {
  const accessToken = await deps.tokens.sign(
    { userId: issued.userId, sessionId: issued.familyId },
    deps.clock.now(),
  )
  reply.setCookie(refreshCookie, issued.refreshToken, {
    httpOnly: true,
    sameSite: 'strict',
    secure: deps.config.cookieSecure,
    path: refreshCookiePath,
    expires: issued.expiresAt,
  })
  reply.header('cache-control', 'no-store')
  return {
    access_token: accessToken,
    token_type: 'bearer',
    expires_in: deps.tokens.ttlSeconds,
    refresh_token: issued.refreshToken,
  }
}
