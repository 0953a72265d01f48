// The people in the account and the invitations out; owners and admins invite and remove.
import { type components, unwrap } from '@plangate/sdk'
import { type FormEvent, useState } from 'react'
import { date } from '../lib/format.ts'
import { api, messageOf } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { Button, Field, Notice } from '../ui/kit.tsx'
import { useAccount } from './AccountLayout.tsx'

type Role = components['schemas']['Member']['role']

export function TeamPage() {
  const { account, canManage } = useAccount()
  const path = { path: { accountId: account.id } }
  const members = useLoad(
    async () =>
      unwrap(
        await api.GET('/v1/accounts/{accountId}/members', { params: { ...path, query: { limit: 100 } } }),
      ).data,
    [account.id],
  )
  const invitations = useLoad(
    async () =>
      canManage
        ? unwrap(
            await api.GET('/v1/accounts/{accountId}/invitations', {
              params: { ...path, query: { status: 'pending', limit: 100 } },
            }),
          ).data
        : [],
    [account.id, canManage],
  )
  const [email, setEmail] = useState('')
  const [role, setRole] = useState<Role>('member')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [sent, setSent] = useState<string | null>(null)

  const invite = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    setSent(null)
    try {
      unwrap(await api.POST('/v1/accounts/{accountId}/invitations', { params: path, body: { email, role } }))
      setSent(`Invitation sent to ${email}.`)
      setEmail('')
      await invitations.reload()
    } catch (caught) {
      setError(messageOf(caught))
    } finally {
      setBusy(false)
    }
  }
  const revoke = async (invitationId: string) => {
    setError(null)
    try {
      unwrap(
        await api.DELETE('/v1/accounts/{accountId}/invitations/{invitationId}', {
          params: { path: { accountId: account.id, invitationId } },
        }),
      )
      await invitations.reload()
    } catch (caught) {
      setError(messageOf(caught))
    }
  }
  return (
    <>
      <h2>Team</h2>
      {members.error && <Notice kind="error">{members.error}</Notice>}
      {error && <Notice kind="error">{error}</Notice>}
      {sent && <Notice kind="success">{sent}</Notice>}
      <table>
        <thead>
          <tr>
            <th scope="col">Member</th>
            <th scope="col">Role</th>
            <th scope="col">Joined</th>
          </tr>
        </thead>
        <tbody>
          {members.data?.map((member) => (
            <tr key={member.user_id}>
              <td>{member.name ? `${member.name} (${member.email})` : member.email}</td>
              <td>{member.role}</td>
              <td>{date(member.created_at)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {canManage && (
        <>
          <h3>Invitations</h3>
          {invitations.data?.length === 0 && <p className="muted">No pending invitations.</p>}
          {invitations.data && invitations.data.length > 0 && (
            <ul className="list">
              {invitations.data.map((invitation) => (
                <li key={invitation.id} className="row">
                  <span>
                    {invitation.email} as {invitation.role} · expires {date(invitation.expires_at)}
                  </span>
                  <Button type="button" kind="secondary" onClick={() => void revoke(invitation.id)}>
                    Revoke <span className="visually-hidden">the invitation of {invitation.email}</span>
                  </Button>
                </li>
              ))}
            </ul>
          )}
          <form onSubmit={invite} className="card inline-form" aria-label="Invite someone">
            <Field label="Email" name="email" type="email" value={email} onChange={setEmail} required />
            <div className="field">
              <label htmlFor="role">Role</label>
              <select id="role" value={role} onChange={(event) => setRole(event.target.value as Role)}>
                <option value="member">Member: reads and books</option>
                <option value="admin">Admin: manages the plan, staff and team</option>
                {account.role === 'owner' && <option value="owner">Owner</option>}
              </select>
            </div>
            <Button busy={busy}>Send invitation</Button>
          </form>
        </>
      )}
    </>
  )
}
