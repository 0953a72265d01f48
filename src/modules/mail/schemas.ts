import { z } from 'zod'

export const MailParams = z.object({ id: z.uuid().describe('The message id.') })

/** A message of the mail folder, as GET /v1/admin/mail shows it and as its file holds it. */
export const MailFolderMessage = z
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
    // The OpenAPI component keeps its published name.
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
export type MailFolderMessage = z.infer<typeof MailFolderMessage>
