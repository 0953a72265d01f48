// Background jobs, newest first, by state: failed ones (retries used up) show what went wrong and
// can be given one more attempt.
import { type components, unwrap } from '@plangate/sdk'
import { useState } from 'react'
import { dateTime } from '../lib/format.ts'
import { api } from '../lib/session.ts'
import { Button, Notice } from '../ui/kit.tsx'
import { FilterSelect, Json, Pager, StatusBadge, useAction, usePaged } from './common.tsx'

type Job = components['schemas']['Job']
type State = Job['state']

const states: readonly State[] = ['failed', 'retry', 'active', 'created', 'completed', 'cancelled']

export function AdminJobs() {
  const [state, setState] = useState('')
  const jobs = usePaged(
    async (cursor) =>
      unwrap(
        await api.GET('/v1/admin/jobs', {
          params: { query: { state: (state || undefined) as State | undefined, cursor } },
        }),
      ),
    [state],
  )
  const action = useAction()
  const retry = (job: Job) =>
    action.run(async () => {
      unwrap(await api.POST('/v1/admin/jobs/{id}/retry', { params: { path: { id: job.id } } }))
      await jobs.reload()
      return `The ${job.name} job ${job.id} gets one more attempt: it runs when a worker next polls.`
    })
  return (
    <>
      <h2>Jobs</h2>
      <form className="inline-form" aria-label="Filter jobs" onSubmit={(event) => event.preventDefault()}>
        <FilterSelect label="State" value={state} onChange={setState} options={states} />
      </form>
      <p className="hint">Failed: jobs that used up their retries, kept for inspection.</p>
      {action.error && <Notice kind="error">{action.error}</Notice>}
      {action.done && <Notice kind="success">{action.done}</Notice>}
      {jobs.error && <Notice kind="error">{jobs.error}</Notice>}
      {jobs.data?.data.length === 0 && <p className="muted">No jobs match.</p>}
      {jobs.data && jobs.data.data.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">State</th>
              <th scope="col">Tries</th>
              <th scope="col">Created</th>
              <th scope="col">Finished</th>
              <th scope="col">Data</th>
              <th scope="col">Output or error</th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {jobs.data.data.map((job) => (
              <tr key={job.id}>
                <td>
                  <code>{job.name}</code>
                </td>
                <td>
                  <StatusBadge status={job.state} />
                </td>
                <td>
                  {job.retry_count} of {job.retry_limit} retries
                </td>
                <td>{dateTime(job.created_on)}</td>
                <td>{dateTime(job.completed_on)}</td>
                <td className="wrap">
                  <Json value={job.data} />
                </td>
                <td className="wrap">
                  <Json value={job.output} />
                </td>
                <td>
                  {job.state === 'failed' && (
                    <Button type="button" kind="secondary" busy={action.busy} onClick={() => void retry(job)}>
                      Retry{' '}
                      <span className="visually-hidden">
                        the {job.name} job {job.id}
                      </span>
                    </Button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <Pager paged={jobs} label="jobs" />
    </>
  )
}
