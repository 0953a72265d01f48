// The embedded mail transport, the mail folder: every message is one JSON file in
// `${DATA_DIR}/outbox`, named so that the names sort by time, and readable by site admins through
// GET /v1/admin/mail. Nothing is sent from it: it is where mail ends up when there is no SMTP.
import { mkdir, open, readdir, readFile, rename, unlink } from 'node:fs/promises'
import { join } from 'node:path'
import type { Logger } from 'pino'
import type { Config } from '../../config.ts'
import { AppError } from '../../core/errors.ts'
import { decodeCursor, type PaginationQuery, toPage } from '../../core/http.ts'
import { newId } from '../../core/ids.ts'
import type { Mailer } from './mailer.ts'
import { MailFolderMessage } from './schemas.ts'

/** The mail folder of a configuration (`DATA_DIR/outbox`). */
export const mailFolderDir = (config: Pick<Config, 'DATA_DIR'>): string => join(config.DATA_DIR, 'outbox')

// `2025-06-01T12-30-00.123Z-<uuid v7>.json`: the ISO instant without colons (not allowed in file
// names everywhere), then the id. Names sort by time, and by id (also time-ordered) within a millisecond.
const fileNamePattern =
  /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}\.\d{3}Z-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.json$/
const fileNameOf = (id: string, createdAt: Date) => `${createdAt.toISOString().replace(/:/g, '-')}-${id}.json`

export interface FolderMailerOptions {
  dir: string
  from: string
  log?: Logger
}

/** A Mailer that writes files instead of sending; the folder is created on first use. */
export function createFolderMailer(options: FolderMailerOptions): Mailer {
  return {
    kind: 'folder',
    async send(message) {
      const createdAt = new Date()
      const record: MailFolderMessage = {
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
        'mail written to the mail folder',
      )
      return { messageId: record.id }
    },
    async close() {},
  }
}

/**
 * Writes to a temporary file, flushes it and renames it into place, so a reader sees a whole
 * message or none. The folder holds live links and codes: the folder and files are owner-only.
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

async function readMessageFile(dir: string, name: string): Promise<MailFolderMessage> {
  return MailFolderMessage.parse(JSON.parse(await readFile(join(dir, name), 'utf8')))
}

/** One page of the mail folder, newest first; the cursor is the file name of the last message shown. */
export async function listMailFolder(
  dir: string,
  query: PaginationQuery,
): Promise<{ data: MailFolderMessage[]; next_cursor: string | null }> {
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

/** The message of the mail folder with this id, or undefined. */
export async function readMailFolderMessage(dir: string, id: string): Promise<MailFolderMessage | undefined> {
  const wanted = id.toLowerCase()
  const name = (await messageFiles(dir)).find((candidate) => fileNamePattern.exec(candidate)?.[1] === wanted)
  return name === undefined ? undefined : readMessageFile(dir, name)
}
