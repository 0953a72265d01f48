import { z } from 'zod'
import type { Clock } from '../../core/clock.ts'
import type { Db } from '../../core/db.ts'
import { defineJob, handleJob } from '../jobs/define.ts'
import type { MailJobContext } from '../mail/jobs.ts'
import { renderMail } from '../mail/templates.ts'
import { issueInvitationToken } from './tokens.ts'

/** What the invitation email job runs with. */
export interface InvitationMailContext extends MailJobContext {
  db: Db
  clock: Clock
}

/**
 * Emails an invitation's accept link. The job makes the token (only its hash is stored); a job of
 * an invitation refreshed, accepted or revoked since sends nothing, so only the latest link works.
 */
export const sendInvitationEmail = defineJob({
  name: 'invitations.email',
  payload: z.object({ invitation_id: z.uuid(), version: z.number().int().positive() }),
  retryLimit: 8,
  retryDelaySeconds: 30,
})

export const sendInvitationEmailHandler = handleJob(
  sendInvitationEmail,
  async (ctx: InvitationMailContext, { invitation_id, version }, { jobId }) => {
    const issued = await ctx.db.transaction((tx) =>
      issueInvitationToken(tx, invitation_id, version, ctx.clock.now()),
    )
    if (!issued) return
    await ctx.mailer.send({
      to: issued.email,
      ...renderMail(
        {
          template: 'invitation',
          token: issued.token,
          account_name: issued.accountName,
          inviter: issued.inviter,
          role: issued.role,
          expires_at: issued.expiresAt.toISOString(),
        },
        ctx.config,
      ),
      reference: jobId,
    })
  },
)
