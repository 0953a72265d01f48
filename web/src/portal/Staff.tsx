import { unwrap } from '@plangate/sdk'
import { type FormEvent, type ReactNode, useState } from 'react'
import { api, messageOf } from '../lib/session.ts'
import { useLoad } from '../lib/useLoad.ts'
import { Button, Field, Notice, useFocusFallback } from '../ui/kit.tsx'
import { Meter } from '../ui/Meter.tsx'
import { useAccount } from './AccountLayout.tsx'
import { refusal } from './limits.tsx'
import { useEntitlements } from './Overview.tsx'

export function StaffPage() {
  const { account, canManage } = useAccount()
  const heading = useFocusFallback<HTMLHeadingElement>()
  const path = { path: { accountId: account.id } }
  const staff = useLoad(
    async () =>
      unwrap(await api.GET('/v1/accounts/{accountId}/staff', { params: { ...path, query: { limit: 100 } } }))
        .data,
    [account.id],
  )
  const entitlements = useEntitlements(account.id)
  const [name, setName] = useState('')
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<ReactNode>(null)

  const reload = () => Promise.all([staff.reload(), entitlements.reload()])
  const add = async (event: FormEvent) => {
    event.preventDefault()
    setBusy(true)
    setError(null)
    try {
      unwrap(await api.POST('/v1/accounts/{accountId}/staff', { params: path, body: { name } }))
      setName('')
      await reload()
    } catch (caught) {
      setError(refusal(caught))
    } finally {
      setBusy(false)
    }
  }
  const remove = async (staffId: string) => {
    setError(null)
    try {
      unwrap(
        await api.DELETE('/v1/accounts/{accountId}/staff/{staffId}', {
          params: { path: { accountId: account.id, staffId } },
        }),
      )
      await reload()
      // The row and its button are gone: the list's heading keeps the keyboard's place.
      heading.after()
    } catch (caught) {
      setError(messageOf(caught))
    }
  }
  const meter = entitlements.data?.features.staff
  return (
    <>
      <h2 ref={heading.ref} tabIndex={-1}>
        Staff
      </h2>
      {meter && meter.kind === 'count' && (
        <Meter label="Staff" used={meter.used} limit={meter.limit} unit="staff members" />
      )}
      {staff.error && <Notice kind="error">{staff.error}</Notice>}
      {error && <Notice kind="error">{error}</Notice>}
      {staff.data?.length === 0 && <p className="muted">No staff yet.</p>}
      {staff.data && staff.data.length > 0 && (
        <ul className="list">
          {staff.data.map((member) => (
            <li key={member.id} className="row">
              <span>{member.name}</span>
              {canManage && (
                <Button type="button" kind="secondary" onClick={() => void remove(member.id)}>
                  Remove <span className="visually-hidden">{member.name}</span>
                </Button>
              )}
            </li>
          ))}
        </ul>
      )}
      {canManage && (
        <form onSubmit={add} className="card inline-form" aria-label="Add a staff member">
          <Field label="Name" name="name" value={name} onChange={setName} required />
          <Button busy={busy}>Add staff member</Button>
        </form>
      )}
    </>
  )
}
