// The embedded mail transport: every message is one JSON file in `${DATA_DIR}/outbox`, named so
// that the names sort by time, and readable by site admins through GET /v1/admin/mail.
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import { z } from 'zod'
import type { Config } from '../../config.ts'
import { AppError } from '../../core/errors.ts'
import { decodeCursor, type PaginationQuery, toPage } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import type { Mailer } from './mailer.ts'

export const OutboxMessage = z
  .object({
    id: z.uuid(),
    to: z.string(),
    from: z.string(),
    subject: z.string(),
    text: z.string(),
    html: z.string(),
    reference: z
      .string()
      .nullable()
      .describe('What caused the message, e.g. the id of the job that sent it.'),
    created_at: z.iso.datetime(),
  })
  .meta({
    id: 'OutboxMessage',
    description: 'An email written to the outbox folder.',
    example: {
      id: '0192f5c5-7eb2-70d5-97c2-4d5e6f7a8b90',
      to: 'ann@example.com',
      from: 'plangate <no-reply@localhost>',
      subject: 'Your sign-in code',
      text: 'Your code is 493817. It expires in 10 minutes.',
      html: '<p>Your code is <strong>493817</strong>. It expires in 10 minutes.</p>',
      reference: 'job:0192f5c5-8fc3-71e6-a8d3-5e6f7a8b9c01',
      created_at: '2026-11-01T09:00:00.000Z',
    },
  })
export type OutboxMessage = z.infer<typeof OutboxMessage>

/** The outbox folder of a configuration. */
export const outboxDir = (config: Pick<Config, 'DATA_DIR'>): string => join(config.DATA_DIR, 'outbox')

// `2025-06-01T12-30-00.123Z-<uuid v7>.json`: the ISO instant without colons (not allowed in file
// names everywhere), then the id. Names sort by time, and by id (also time-ordered) within a millisecond.
const fileNamePattern =
  /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json$/
const fileNameOf = (id: string, createdAt: Date) => `${createdAt.toISOString().replace(/:/g, '-')}-${id}.json`

export interface OutboxMailerOptions {
  dir: string
  from: string
  log?: Logger
}

/** A Mailer that writes files instead of sending; the folder is created on first use. */
export function createOutboxMailer(options: OutboxMailerOptions): Mailer {
  return {
    kind: 'outbox',
    async send(message) {
      const createdAt = new Date()
      const record: OutboxMessage = {
        id: newId(),
        to: message.to,
        from: options.from,
        subject: message.subject,
        text: message.text,
        html: message.html,
        reference: message.reference ?? null,
        created_at: createdAt.toISOString(),
      }
      const name = fileNameOf(record.id, createdAt)
      await writeAtomically(options.dir, name, `${JSON.stringify(record, null, 2)}\n`)
      options.log?.info(
        { id: record.id, reference: record.reference, file: join(options.dir, name) },
        'mail written to the outbox',
      )
      return { messageId: record.id }
    },
    async close() {},
  }
}

/**
 * Writes to a temporary file, flushes it and renames it into place, so a reader sees a whole
 * message or none. The outbox holds live links and codes: the folder and files are owner-only.
 */
async function writeAtomically(dir: string, name: string, content: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const temporary = join(dir, `.${name}.tmp`)
  const handle = await open(temporary, 'wx', 0o600)
  try {
    await handle.writeFile(content, 'utf8')
    await handle.sync()
  } catch (error) {
    await handle.close()
    await unlink(temporary).catch(() => {})
    throw error
  }
  await handle.close()
  try {
    await rename(temporary, join(dir, name))
  } catch (error) {
    await unlink(temporary).catch(() => {})
    throw error
  }
}

/** The message file names, newest first; none when the folder does not exist yet. */
async function messageFiles(dir: string): Promise<string[]> {
  try {
    const names = await readdir(dir)
    return names.filter((name) => fileNamePattern.test(name)).sort((a, b) => (a < b ? 1 : a > b ? -1 : 0))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []
    throw error
  }
}

async function readMessageFile(dir: string, name: string): Promise<OutboxMessage> {
  return OutboxMessage.parse(JSON.parse(await readFile(join(dir, name), 'utf8')))
}

/** One page of the outbox, newest first; the cursor is the file name of the last message shown. */
export async function listOutbox(
  dir: string,
  query: PaginationQuery,
): Promise<{ data: OutboxMessage[]; next_cursor: string | null }> {
  const after = decodeCursor(query.cursor, 1)?.[0]
  if (after !== undefined && (typeof after !== 'string' || !fileNamePattern.test(after))) {
    throw new AppError('validation_failed', 'Invalid cursor', {
      errors: [{ location: 'query.cursor', message: 'invalid cursor' }],
    })
  }
  const names = (await messageFiles(dir)).filter((name) => after === undefined || name < after)
  const rows = await Promise.all(
    names
      .slice(0, query.limit + 1)
      .map(async (name) => ({ name, message: await readMessageFile(dir, name) })),
  )
  return toPage(
    rows,
    query.limit,
    (row) => [row.name],
    (row) => row.message,
  )
}

/** The outbox message with this id, or undefined. */
export async function readOutboxMessage(dir: string, id: string): Promise<OutboxMessage | undefined> {
  const wanted = id.toLowerCase()
  const name = (await messageFiles(dir)).find((candidate) => fileNamePattern.exec(candidate)?.[1] === wanted)
  return name === undefined ? undefined : readMessageFile(dir, name)
}
