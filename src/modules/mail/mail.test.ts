// Outgoing mail: the templates, the SMTP mailer against a real SMTP server, the mail folder and
// the admin routes that read it.
import { mkdtempSync, rmSync } from 'node:fs'
import { readdir, readFile, stat } from 'node:fs/promises'
import { createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import {
  bearer,
  buildTestApp,
  loginAdmin,
  problemOf,
  registerAndLogin,
  type TestApp,
  uniqueEmail,
} from '../../../test/helpers/app.ts'
import { linkToken, loginCode, type SmtpSink, startSmtpSink } from '../../../test/helpers/smtp.ts'
import { type App, buildApp } from '../../app.ts'
import { loadConfig } from '../../config.ts'
import { AppError } from '../../core/errors.ts'
import { createFolderMailer, listMailFolder, mailFolderDir, readMailFolderMessage } from './folder.ts'
import { createMailer } from './index.ts'
import type { MailMessage } from './mailer.ts'
import type { MailFolderMessage } from './schemas.ts'
import { createSmtpMailer } from './smtp.ts'
import { MailTemplate, renderMail } from './templates.ts'

const log = pino({ level: 'silent' })
const appConfig = { APP_URL: 'http://plangate.test' }
const temporaryDirs: string[] = []
const temporaryDir = () => {
  const dir = mkdtempSync(join(tmpdir(), 'plangate-mail-'))
  temporaryDirs.push(dir)
  return dir
}
afterAll(() => {
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true })
})

const message = (overrides: Partial<MailMessage> = {}): MailMessage => ({
  to: uniqueEmail('mail'),
  subject: 'Hello',
  text: 'Hello in plain text',
  html: '<p>Hello in <b>HTML</b></p>',
  ...overrides,
})

describe('mail templates', () => {
  const all: MailTemplate[] = [
    { template: 'verify_email', token: 'verify-token' },
    { template: 'password_reset', token: 'reset-token', expires_minutes: 30 },
    { template: 'password_changed' },
    { template: 'login_code', code: '123456' },
    { template: 'welcome', name: 'Ann' },
    { template: 'welcome' },
  ]

  it.each(all)('renders $template with a subject, a plain-text part and an HTML part', (mail) => {
    const rendered = renderMail(mail, appConfig)
    expect(rendered.subject.length).toBeGreaterThan(0)
    expect(rendered.text.length).toBeGreaterThan(20)
    expect(rendered.text).not.toMatch(/<[a-z/!]/i)
    expect(rendered.html).toMatch(/^<!doctype html>/)
    expect(rendered.html).toContain(`<title>${rendered.subject}</title>`)
  })

  it('links verification and reset under APP_URL with the token as the `token` query parameter', () => {
    const token = 'a+b/c=d&e f'
    const verify = renderMail({ template: 'verify_email', token }, appConfig)
    const reset = renderMail({ template: 'password_reset', token, expires_minutes: 30 }, appConfig)
    const encoded = encodeURIComponent(token)
    expect(verify.text).toContain(`http://plangate.test/verify-email?token=${encoded}`)
    expect(reset.text).toContain(`http://plangate.test/reset-password?token=${encoded}`)
    expect(verify.html).toContain(`href="http://plangate.test/verify-email?token=${encoded}"`)
    expect(reset.html).toContain(`href="http://plangate.test/reset-password?token=${encoded}"`)
    expect(linkToken(verify.text)).toBe(token)
    expect(linkToken(reset.text)).toBe(token)
  })

  it('keeps a path prefix of APP_URL in links, with or without a trailing slash', () => {
    for (const APP_URL of ['https://example.com/app', 'https://example.com/app/']) {
      const { text } = renderMail({ template: 'verify_email', token: 'tok' }, { APP_URL })
      expect(text).toContain('https://example.com/app/verify-email?token=tok')
    }
  })

  it('says when a reset link expires, and that a login code is valid 10 minutes', () => {
    const reset = renderMail({ template: 'password_reset', token: 't', expires_minutes: 45 }, appConfig)
    expect(reset.text).toContain('expires in 45 minutes')
    expect(reset.html).toContain('expires in 45 minutes')
    const code = renderMail({ template: 'login_code', code: '834201' }, appConfig)
    expect(loginCode(code.text)).toBe('834201')
    expect(code.html).toContain('834201')
    expect(code.text).toContain('10 minutes')
  })

  it('tells of a changed password without a link, and says to reset it if it was not the user', () => {
    const changed = renderMail({ template: 'password_changed' }, appConfig)
    expect(changed.text).not.toMatch(/https?:\/\//)
    expect(changed.html).not.toContain('href=')
    expect(changed.text).toMatch(/reset your password/i)
  })

  it('escapes HTML in a name and keeps it as written in the plain text', () => {
    const name = '<script>alert("x")</script> & \'Co\''
    const welcome = renderMail({ template: 'welcome', name }, appConfig)
    expect(welcome.html).not.toContain('<script>')
    expect(welcome.html).toContain('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;Co&#39;')
    expect(welcome.text).toContain(name)
    expect(renderMail({ template: 'welcome', name: null }, appConfig).text).toMatch(/^Welcome!/)
  })

  it('validates template payloads as a job would carry them', () => {
    expect(MailTemplate.parse({ template: 'login_code', code: '123456' })).toEqual({
      template: 'login_code',
      code: '123456',
    })
    expect(MailTemplate.safeParse({ template: 'verify_email' }).success).toBe(false)
    expect(MailTemplate.safeParse({ template: 'password_reset', token: 't' }).success).toBe(false)
    expect(MailTemplate.safeParse({ template: 'newsletter' }).success).toBe(false)
  })
})

describe('SMTP mailer', () => {
  let smtp: SmtpSink
  beforeAll(async () => {
    smtp = await startSmtpSink()
  })
  afterAll(async () => {
    await smtp?.close()
  })
  beforeEach(() => smtp.clear())

  it('delivers the subject, recipient, sender and both parts to an SMTP server', async () => {
    const mailer = createSmtpMailer({ url: smtp.url, from: 'plangate <no-reply@plangate.test>' })
    const rendered = renderMail({ template: 'verify_email', token: 'smtp-token' }, appConfig)
    const to = uniqueEmail('smtp')
    const sent = await mailer.send({ to, ...rendered, reference: 'job-1' })
    const received = await smtp.waitFor((candidate) => candidate.to === to, { timeoutMs: 5_000 })
    expect(mailer.kind).toBe('smtp')
    expect(sent.messageId).toMatch(/^<.+>$/)
    expect(received.subject).toBe(rendered.subject)
    expect(received.from).toMatch(/^"?plangate"? <no-reply@plangate\.test>$/)
    expect(received.envelopeTo).toEqual([to])
    expect(received.text.trim()).toBe(rendered.text.trim())
    expect(received.html).toBe(rendered.html)
    expect(linkToken(received.text)).toBe('smtp-token')
    expect(received.headers.get('x-plangate-reference')).toBe('job-1')
    expect(received.headers.get('message-id')).toBe(sent.messageId)
    await mailer.close()
  })

  it('authenticates with the credentials in SMTP_URL', async () => {
    const mailer = createMailer(
      loadConfig({
        SMTP_URL: `smtp://mailuser:mail%20pass@127.0.0.1:${smtp.port}`,
        MAIL_FROM: 'x@plangate.test',
      }),
      log,
    )
    const to = uniqueEmail('auth')
    await mailer.send(message({ to }))
    expect((await smtp.waitFor((candidate) => candidate.to === to)).authUser).toBe('mailuser')
    await mailer.close()
  })

  it('rejects when nothing listens on the port, so the sending job fails and is retried', async () => {
    const port = await unusedPort()
    const mailer = createSmtpMailer({ url: `smtp://127.0.0.1:${port}`, from: 'x@plangate.test' })
    await expect(mailer.send(message())).rejects.toThrow(/ECONNREFUSED/)
    await mailer.close()
  })

  it('rejects instead of hanging when the server accepts the connection but never answers', async () => {
    const sockets: Socket[] = []
    const silent = createServer((socket) => sockets.push(socket))
    const port = await listen(silent)
    const mailer = createSmtpMailer({
      url: `smtp://127.0.0.1:${port}`,
      from: 'x@plangate.test',
      timeoutMs: 300,
    })
    try {
      await expect(mailer.send(message())).rejects.toMatchObject({ code: 'ETIMEDOUT' })
    } finally {
      await mailer.close()
      for (const socket of sockets) socket.destroy()
      await new Promise((resolve) => silent.close(resolve))
    }
  })
})

describe('mail folder mailer', () => {
  it('writes each message as one whole JSON file named by time, readable by its owner only', async () => {
    const dir = join(temporaryDir(), 'nested', 'outbox')
    const mailer = createFolderMailer({ dir, from: 'plangate <no-reply@plangate.test>' })
    const sent = message({ reference: 'job-7' })
    const { messageId } = await mailer.send(sent)

    const files = await readdir(dir)
    expect(files).toHaveLength(1)
    const [file] = files as [string]
    expect(file).toMatch(
      new RegExp(`^\\d{4}-\\d{2}-\\d{2}T\\d{2}-\\d{2}-\\d{2}\\.\\d{3}Z-${messageId}\\.json$`),
    )
    const stored = JSON.parse(await readFile(join(dir, file), 'utf8')) as MailFolderMessage
    expect(stored).toEqual({
      id: messageId,
      to: sent.to,
      from: 'plangate <no-reply@plangate.test>',
      subject: sent.subject,
      text: sent.text,
      html: sent.html,
      reference: 'job-7',
      created_at: expect.any(String),
    })
    expect(file.startsWith(stored.created_at.replace(/:/g, '-'))).toBe(true)
    if (process.platform !== 'win32') expect((await stat(join(dir, file))).mode & 0o077).toBe(0)
    expect(mailer.kind).toBe('folder')
  })

  it('lists newest first, page by page, and reads one message by id', async () => {
    const dir = temporaryDir()
    const mailer = createFolderMailer({ dir, from: 'x@plangate.test' })
    const ids: string[] = []
    for (let index = 0; index < 5; index++) {
      ids.push((await mailer.send(message({ subject: `message ${index}` }))).messageId)
    }

    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const result = await listMailFolder(dir, { limit: 2, ...(cursor && { cursor }) })
      seen.push(...result.data.map((entry) => entry.id))
      cursor = result.next_cursor ?? undefined
      pages++
    } while (cursor && pages < 10)
    expect(pages).toBe(3)
    expect(seen).toEqual([...ids].reverse())

    const one = await readMailFolderMessage(dir, ids[2] as string)
    expect(one).toMatchObject({ id: ids[2], subject: 'message 2', reference: null })
    expect(await readMailFolderMessage(dir, '01970000-0000-7000-8000-000000000000')).toBeUndefined()
  })

  it('answers an empty page before the first message, and refuses a forged cursor', async () => {
    const dir = join(temporaryDir(), 'not-yet-created')
    expect(await listMailFolder(dir, { limit: 20 })).toEqual({ data: [], next_cursor: null })
    const forged = Buffer.from(JSON.stringify(['../../etc/passwd'])).toString('base64url')
    await expect(listMailFolder(dir, { limit: 20, cursor: forged })).rejects.toBeInstanceOf(AppError)
  })

  it('is chosen by createMailer when SMTP_URL is unset, under DATA_DIR/outbox', async () => {
    const config = loadConfig({ DATA_DIR: temporaryDir() })
    const mailer = createMailer(config, log)
    expect(mailer.kind).toBe('folder')
    const { messageId } = await mailer.send(message())
    expect(await readMailFolderMessage(mailFolderDir(config), messageId)).toMatchObject({ id: messageId })
  })
})

describe('GET /v1/admin/mail', () => {
  let t: TestApp
  let app: App
  let adminToken: string

  beforeAll(async () => {
    t = await buildTestApp({ DATA_DIR: temporaryDir() })
    app = t.app
    adminToken = await loginAdmin(app)
  })
  afterAll(async () => {
    await t?.close()
  })

  const get = (url: string, token?: string) =>
    app.inject({ method: 'GET', url, headers: token ? bearer(token) : {} })

  it('shows admins the mail the jobs wrote, newest first, and one message by id', async () => {
    const user = await registerAndLogin(app)
    await t.deps.jobs.drain(t.deps)

    const listed = await get('/v1/admin/mail?limit=100', adminToken)
    expect(listed.statusCode, listed.body).toBe(200)
    const mine = (listed.json().data as MailFolderMessage[]).filter((entry) => entry.to === user.email)
    expect(mine.map((entry) => entry.subject).sort()).toEqual([
      'Verify your email address',
      'Welcome to plangate',
    ])
    const verification = mine.find(
      (entry) => entry.subject === 'Verify your email address',
    ) as MailFolderMessage
    expect(linkToken(verification.text)).toMatch(/.{20,}/)
    expect(verification.html).toContain('href="http://plangate.test/verify-email?token=')

    const one = await get(`/v1/admin/mail/${verification.id}`, adminToken)
    expect(one.statusCode, one.body).toBe(200)
    expect(one.json()).toEqual(verification)
  })

  it('paginates with limit and cursor', async () => {
    for (let index = 0; index < 3; index++) await t.deps.mailer.send(message({ subject: `page ${index}` }))
    const first = await get('/v1/admin/mail?limit=2', adminToken)
    expect(first.statusCode).toBe(200)
    const firstPage = first.json()
    expect(firstPage.data.map((entry: MailFolderMessage) => entry.subject)).toEqual(['page 2', 'page 1'])
    expect(firstPage.next_cursor).toEqual(expect.any(String))
    const second = await get(`/v1/admin/mail?limit=2&cursor=${firstPage.next_cursor}`, adminToken)
    expect(second.json().data[0].subject).toBe('page 0')
    expect(problemOf(await get('/v1/admin/mail?cursor=bm9wZQ', adminToken))).toMatchObject({
      status: 400,
      code: 'validation_failed',
    })
  })

  it('is for site admins only', async () => {
    const user = await registerAndLogin(app)
    expect(problemOf(await get('/v1/admin/mail'))).toMatchObject({ status: 401, code: 'unauthorized' })
    expect(problemOf(await get('/v1/admin/mail', user.token))).toMatchObject({
      status: 403,
      code: 'forbidden',
    })
    const { messageId } = await t.deps.mailer.send(message())
    expect(problemOf(await get(`/v1/admin/mail/${messageId}`, user.token))).toMatchObject({
      status: 403,
      code: 'forbidden',
    })
  })

  it('answers 404 for an unknown id and 400 for a malformed one', async () => {
    expect(
      problemOf(await get('/v1/admin/mail/01970000-0000-7000-8000-000000000000', adminToken)),
    ).toMatchObject({
      status: 404,
      code: 'not_found',
    })
    expect(problemOf(await get('/v1/admin/mail/..%2F..%2Fetc%2Fpasswd', adminToken))).toMatchObject({
      status: 400,
      code: 'validation_failed',
    })
  })

  it('answers 404 not_found when mail goes out over SMTP, as nothing is kept', async () => {
    const smtp = await startSmtpSink()
    const mailer = createSmtpMailer({ url: smtp.url, from: 'x@plangate.test' })
    const smtpApp = await buildApp({ ...t.deps, mailer })
    await smtpApp.ready()
    try {
      const res = problemOf(
        await smtpApp.inject({ method: 'GET', url: '/v1/admin/mail', headers: bearer(adminToken) }),
      )
      expect(res).toMatchObject({ status: 404, code: 'not_found' })
      expect(res.body.detail).toBe('mail is sent over SMTP; there is no outbox')
      const { messageId } = await t.deps.mailer.send(message())
      const one = await smtpApp.inject({
        method: 'GET',
        url: `/v1/admin/mail/${messageId}`,
        headers: bearer(adminToken),
      })
      expect(problemOf(one)).toMatchObject({ status: 404, code: 'not_found' })
    } finally {
      await smtpApp.close()
      await mailer.close()
      await smtp.close()
    }
  })
})

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

/** A port nothing listens on: bound once by us, then released. */
async function unusedPort(): Promise<number> {
  const server = createServer()
  const port = await listen(server)
  await new Promise((resolve) => server.close(resolve))
  return port
}
