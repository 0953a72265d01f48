import { z } from 'zod'
import { issueInvitationToken } from '../../invitations/tokens.ts'
import { renderMail } from '../../mail/templates.ts'
import { defineJob } from '../define.ts'

/**
 * Emails an invitation's accept link. The job makes the token (only its hash is stored); a job of
 * an invitation refreshed, accepted or revoked since sends nothing, so only the latest link works.
 */
export const sendInvitationEmail = defineJob({
  name: 'invitations.email',
  payload: z.object({ invitation_id: z.uuid(), version: z.number().int().positive() }),
  retryLimit: 8,
  retryDelaySeconds: 30,
  async handler({ deps, jobId }, { invitation_id, version }) {
    const issued = await deps.db.transaction((tx) =>
      issueInvitationToken(tx, invitation_id, version, deps.clock.now()),
    )
    if (!issued) return
    await deps.mailer.send({
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
        deps.config,
      ),
      reference: jobId,
    })
  },
})
