import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod'
import { AppError, notFound } from '../../core/errors.ts'
import { PaginationQuery, page, problems } from '../../core/http.ts'
import type { Deps } from '../../deps.ts'
import { requireAdmin } from '../auth/guards.ts'
import { listMailFolder, mailFolderDir, readMailFolderMessage } from './folder.ts'
import { MailFolderMessage, MailParams } from './schemas.ts'

const tags = ['admin']
const security = [{ bearer: [] }]

export const mailRoutes =
  (deps: Deps): FastifyPluginAsyncZod =>
  async (app) => {
    const dir = mailFolderDir(deps.config)
    // With SMTP nothing is kept: answering an empty page would read as "no mail was sent".
    const requireFolder = () => {
      if (deps.mailer.kind !== 'folder') {
        throw new AppError('not_found', 'mail is sent over SMTP; there is no outbox')
      }
    }

    app.get(
      '/v1/admin/mail',
      {
        schema: {
          tags,
          summary: 'List outgoing mail',
          description:
            'Site admins: the messages written to the outbox folder (`DATA_DIR/outbox`, used when `SMTP_URL` is unset), newest first. They contain live links and codes. 404 `not_found` when mail is sent over SMTP, as nothing is kept then.',
          operationId: 'listMail',
          security,
          querystring: PaginationQuery,
          response: { 200: page(MailFolderMessage), ...problems },
        },
        preHandler: requireAdmin(deps),
      },
      async (req) => {
        requireFolder()
        return listMailFolder(dir, req.query)
      },
    )

    app.get(
      '/v1/admin/mail/:id',
      {
        schema: {
          tags,
          summary: 'Get one outgoing message',
          description:
            'Site admins: one message of the outbox folder. 404 `not_found` when there is no such message, or when mail is sent over SMTP.',
          operationId: 'getMail',
          security,
          params: MailParams,
          response: { 200: MailFolderMessage, ...problems },
        },
        preHandler: requireAdmin(deps),
      },
      async (req) => {
        requireFolder()
        const message = await readMailFolderMessage(dir, req.params.id)
        if (!message) throw notFound('Message')
        return message
      },
    )
  }
