// The email flows end to end: real jobs deliver real mail to an SMTP server started by the test,
// and the tests follow the links and codes in the delivered messages through the API.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  login,
  problemOf,
  registerAndLogin,
  type TestApp,
  uniqueEmail,
} from '../../../test/helpers/app.ts'
import { linkToken, loginCode, type SmtpSink, startSmtpSink } from '../../../test/helpers/smtp.ts'

const strongPassword = 'correct-horse-battery-staple'
const newPassword = 'violet-submarine-orchestra-47'

describe('email flows over real SMTP', () => {
  let t: TestApp
  let smtp: SmtpSink

  beforeAll(async () => {
    smtp = await startSmtpSink()
    t = await buildTestApp({ SMTP_URL: smtp.url, MAIL_FROM: 'plangate <no-reply@plangate.test>' })
  })
  afterAll(async () => {
    await t?.close()
    await smtp?.close()
  })
  beforeEach(() => smtp.clear())

  /** Runs the due jobs (mail delivery) and returns the messages sent to `to` with a subject matching. */
  async function mailTo(to: string, subject: RegExp) {
    await t.deps.jobs.drain(t.deps)
    return smtp.waitFor((message) => message.to.includes(to) && subject.test(message.subject), {
      timeoutMs: 5_000,
    })
  }

  async function post(url: string, payload: unknown, token?: string) {
    return t.app.inject({
      method: 'POST',
      url,
      payload: payload as object,
      headers: token ? bearer(token) : {},
    })
  }

  it('registers, sends welcome and verification emails, and verifies through the emailed link (once)', async () => {
    const user = await registerAndLogin(t.app)
    const welcome = await mailTo(user.email, /welcome/i)
    expect(welcome.from).toContain('no-reply@plangate.test')
    const verification = await mailTo(user.email, /verify/i)
    expect(verification.text).toContain('http://plangate.test/')
    expect(verification.html).toContain('token=')
    const token = linkToken(verification.text)

    const verified = await post('/v1/auth/email/verify', { token })
    expect(verified.statusCode, verified.body).toBe(200)
    expect(verified.json()).toMatchObject({ email: user.email, is_verified: true })
    expect(problemOf(await post('/v1/auth/email/verify', { token }))).toMatchObject({
      status: 400,
      code: 'validation_failed',
    })
    expect(problemOf(await post('/v1/auth/email/verify/request', {}, user.token))).toMatchObject({
      status: 409,
    })
  })

  it('email enumeration by registering twice: same 202 body, the owner gets a "someone tried" notice, no second user', async () => {
    const email = uniqueEmail('taken')
    const first = await post('/v1/auth/register', { email, password: strongPassword })
    await mailTo(email, /verify/i)
    smtp.clear()

    const second = await post('/v1/auth/register', { email: email.toUpperCase(), password: newPassword })
    const fresh = await post('/v1/auth/register', { email: uniqueEmail('fresh'), password: strongPassword })
    for (const res of [first, second, fresh]) {
      expect(res.statusCode, res.body).toBe(202)
      expect(res.headers['content-type']).toBe(first.headers['content-type'])
      expect(res.body).toBe(first.body)
    }
    expect(first.json()).toEqual({ status: 'accepted' })

    const notice = await mailTo(email, /tried to sign up/i)
    expect(notice.text).toContain('no new account was created')
    expect(notice.html).toContain('already exists')
    const toOwner = smtp.messages.filter((message) => message.to.includes(email))
    expect(toOwner.map((message) => message.subject)).toEqual([notice.subject])
    // No second user: the first password still signs in, the second does not.
    expect((await post('/v1/auth/token', { username: email, password: strongPassword })).statusCode).toBe(200)
    expect((await post('/v1/auth/token', { username: email, password: newPassword })).statusCode).toBe(401)

    // Trying again within the hour sends no second notice (no mail bombing through the form).
    smtp.clear()
    expect((await post('/v1/auth/register', { email, password: newPassword })).statusCode).toBe(202)
    await t.deps.jobs.drain(t.deps)
    expect(smtp.messages.filter((message) => message.to.includes(email))).toEqual([])
  })

  it('sends nothing when the registration is refused', async () => {
    const res = await post('/v1/auth/register', { email: uniqueEmail(), password: 'password123' })
    expect(problemOf(res)).toMatchObject({ status: 400 })
    expect(await t.deps.jobs.drain(t.deps)).toBe(0)
    expect(smtp.messages).toHaveLength(0)
  })

  it('answers forgot-password identically for known and unknown emails, and mails only the known one', async () => {
    const user = await registerAndLogin(t.app)
    await t.deps.jobs.drain(t.deps)
    smtp.clear()
    const known = await post('/v1/auth/password/forgot', { email: user.email })
    const unknown = await post('/v1/auth/password/forgot', { email: uniqueEmail('nobody') })
    expect(known.statusCode).toBe(202)
    expect(unknown.statusCode).toBe(202)
    expect(unknown.body).toBe(known.body)
    await mailTo(user.email, /reset/i)
    expect(smtp.messages).toHaveLength(1)
  })

  it('resets the password with the emailed token once, ends every session and says the password changed', async () => {
    const user = await registerAndLogin(t.app)
    const second = await login(t.app, user.email, user.password)
    await post('/v1/auth/password/forgot', { email: user.email })
    const token = linkToken((await mailTo(user.email, /reset/i)).text)

    const weak = await post('/v1/auth/password/reset', { token, new_password: 'password123' })
    expect(problemOf(weak)).toMatchObject({ status: 400, code: 'validation_failed' })

    const reset = await post('/v1/auth/password/reset', { token, new_password: newPassword })
    expect(reset.statusCode, reset.body).toBe(204)
    expect(
      problemOf(await post('/v1/auth/password/reset', { token, new_password: newPassword })),
    ).toMatchObject({
      status: 400,
    })
    for (const refreshToken of [user.refreshToken, second.refreshToken]) {
      expect((await post('/v1/auth/refresh', { refresh_token: refreshToken })).statusCode).toBe(401)
    }
    expect((await post('/v1/auth/token', { username: user.email, password: user.password })).statusCode).toBe(
      401,
    )
    expect((await post('/v1/auth/token', { username: user.email, password: newPassword })).statusCode).toBe(
      200,
    )
    await mailTo(user.email, /password.*changed/i)
  })

  it('refuses an expired reset token', async () => {
    const user = await registerAndLogin(t.app)
    await post('/v1/auth/password/forgot', { email: user.email })
    const token = linkToken((await mailTo(user.email, /reset/i)).text)
    t.clock.advance(31 * 60_000)
    try {
      expect(
        problemOf(await post('/v1/auth/password/reset', { token, new_password: newPassword })),
      ).toMatchObject({
        status: 400,
        code: 'validation_failed',
      })
    } finally {
      t.clock.advance(-31 * 60_000)
    }
  })

  it('changes the password: 403 on a wrong current one, keeps this session, ends the others, sends a notice', async () => {
    const user = await registerAndLogin(t.app)
    const other = await login(t.app, user.email, user.password)
    const wrong = await post(
      '/v1/auth/password/change',
      { current_password: 'not-it', new_password: newPassword },
      user.token,
    )
    expect(problemOf(wrong)).toMatchObject({ status: 403, code: 'forbidden' })
    const weak = await post(
      '/v1/auth/password/change',
      { current_password: user.password, new_password: user.email },
      user.token,
    )
    expect(problemOf(weak)).toMatchObject({ status: 400, code: 'validation_failed' })

    const changed = await post(
      '/v1/auth/password/change',
      { current_password: user.password, new_password: newPassword },
      user.token,
    )
    expect(changed.statusCode, changed.body).toBe(204)
    expect((await post('/v1/auth/refresh', { refresh_token: user.refreshToken })).statusCode).toBe(200)
    expect((await post('/v1/auth/refresh', { refresh_token: other.refreshToken })).statusCode).toBe(401)
    await mailTo(user.email, /password.*changed/i)
  })

  it('signs in with an emailed login code: single use, and a new request replaces the old code', async () => {
    const user = await registerAndLogin(t.app)
    await post('/v1/auth/login-code/request', { email: user.email })
    const first = loginCode((await mailTo(user.email, /code/i)).text)
    smtp.clear()
    await post('/v1/auth/login-code/request', { email: user.email })
    const second = loginCode((await mailTo(user.email, /code/i)).text)

    if (first !== second) {
      expect((await post('/v1/auth/login-code/verify', { email: user.email, code: first })).statusCode).toBe(
        401,
      )
    }
    const ok = await post('/v1/auth/login-code/verify', { email: user.email, code: second })
    expect(ok.statusCode, ok.body).toBe(200)
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(ok.json().access_token) })
    expect(me.json()).toMatchObject({ id: user.id })
    expect((await post('/v1/auth/login-code/verify', { email: user.email, code: second })).statusCode).toBe(
      401,
    )
  })

  it('caps login-code tries at 5: the right code fails after five wrong ones', async () => {
    const user = await registerAndLogin(t.app)
    await post('/v1/auth/login-code/request', { email: user.email })
    const code = loginCode((await mailTo(user.email, /code/i)).text)
    const wrong = code === '000000' ? '000001' : '000000'
    for (let i = 0; i < 5; i++) {
      expect((await post('/v1/auth/login-code/verify', { email: user.email, code: wrong })).statusCode).toBe(
        401,
      )
    }
    expect((await post('/v1/auth/login-code/verify', { email: user.email, code })).statusCode).toBe(401)
  })

  it('caps tries under concurrency too: of 20 simultaneous wrong guesses at most 5 are compared', async () => {
    const user = await registerAndLogin(t.app)
    await post('/v1/auth/login-code/request', { email: user.email })
    const code = loginCode((await mailTo(user.email, /code/i)).text)
    const guesses = Array.from({ length: 20 }, (_, i) =>
      String((Number(code) + 1 + i) % 1_000_000).padStart(6, '0'),
    )
    await Promise.all(
      guesses.map((guess) => post('/v1/auth/login-code/verify', { email: user.email, code: guess })),
    )
    expect((await post('/v1/auth/login-code/verify', { email: user.email, code })).statusCode).toBe(401)
  })

  it('expires login codes after 10 minutes', async () => {
    const user = await registerAndLogin(t.app)
    await post('/v1/auth/login-code/request', { email: user.email })
    const code = loginCode((await mailTo(user.email, /code/i)).text)
    t.clock.advance(10 * 60_000 + 1_000)
    try {
      expect((await post('/v1/auth/login-code/verify', { email: user.email, code })).statusCode).toBe(401)
    } finally {
      t.clock.advance(-(10 * 60_000 + 1_000))
    }
  })

  it('answers login-code requests identically for unknown emails and sends them nothing', async () => {
    const user = await registerAndLogin(t.app)
    await t.deps.jobs.drain(t.deps)
    smtp.clear()
    const known = await post('/v1/auth/login-code/request', { email: user.email })
    const unknown = await post('/v1/auth/login-code/request', { email: uniqueEmail('ghost') })
    expect([known.statusCode, unknown.statusCode]).toEqual([202, 202])
    expect(unknown.body).toBe(known.body)
    await mailTo(user.email, /code/i)
    expect(smtp.messages).toHaveLength(1)
    const guess = await post('/v1/auth/login-code/verify', { email: uniqueEmail('ghost'), code: '123456' })
    expect(problemOf(guess)).toMatchObject({ status: 401, code: 'unauthorized' })
  })

  it('deactivation ends access on the very next request, revokes refresh tokens and refuses sign-in', async () => {
    const user = await registerAndLogin(t.app)
    const deactivated = await post('/v1/auth/deactivate', {}, user.token)
    expect(deactivated.statusCode, deactivated.body).toBe(204)
    const me = await t.app.inject({ method: 'GET', url: '/v1/me', headers: bearer(user.token) })
    expect(problemOf(me)).toMatchObject({ status: 401, code: 'unauthorized' })
    expect((await post('/v1/auth/refresh', { refresh_token: user.refreshToken })).statusCode).toBe(401)
    expect((await post('/v1/auth/token', { username: user.email, password: user.password })).statusCode).toBe(
      401,
    )
    await post('/v1/auth/login-code/request', { email: user.email })
    await t.deps.jobs.drain(t.deps)
    expect(
      smtp.messages.filter((message) => message.to.includes(user.email) && /code/i.test(message.subject)),
    ).toEqual([])
  })

  it('refuses weak passwords at registration with a clear problem', async () => {
    for (const password of ['password123', 'qwertyuiop12', 'aaaaaaaaaaaa']) {
      const res = await post('/v1/auth/register', { email: uniqueEmail(), password })
      expect(problemOf(res)).toMatchObject({ status: 400, code: 'validation_failed' })
      expect(res.json().errors[0].location).toBe('body.password')
    }
    const email = uniqueEmail('marguerite.duras')
    const own = await post('/v1/auth/register', { email, password: `${email}` })
    expect(problemOf(own)).toMatchObject({ status: 400 })
  })
})
