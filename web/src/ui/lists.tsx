// Lists read a page at a time (following `next_cursor`) and actions with a busy/error/done state:
// what the portal's and the dashboard's pages share.
import { useState } from 'react'
import { messageOf } from '../lib/session.ts'
import { type Loaded, useLoad } from '../lib/useLoad.ts'
import { Button } from './kit.tsx'

export interface PageOf<T> {
  data: T[]
  next_cursor: string | null
}

export type Paged<T> = Loaded<PageOf<T>> & {
  /** Null on the first page. */
  cursor: string | null
  next: () => void
  first: () => void
}

/**
 * A list read a page at a time: `load` gets the cursor (undefined for the first page) and runs
 * again when `key` (the filters) changes, which starts over at the first page.
 */
export function usePaged<T>(
  load: (cursor: string | undefined) => Promise<PageOf<T>>,
  key: readonly unknown[],
): Paged<T> {
  const keyText = JSON.stringify(key)
  const [position, setPosition] = useState<{ key: string; cursor: string | null }>({
    key: keyText,
    cursor: null,
  })
  const cursor = position.key === keyText ? position.cursor : null
  const loaded = useLoad(() => load(cursor ?? undefined), [keyText, cursor])
  return {
    ...loaded,
    cursor,
    next: () => {
      const next = loaded.data?.next_cursor
      if (next) setPosition({ key: keyText, cursor: next })
    },
    first: () => setPosition({ key: keyText, cursor: null }),
  }
}

/** "Next page" when there is one, and a way back to the first. */
export function Pager<T>({ paged, label }: { paged: Paged<T>; label: string }) {
  if (!paged.data?.next_cursor && paged.cursor === null) return null
  return (
    <nav className="actions" aria-label={`Pages of ${label}`}>
      {paged.cursor !== null && (
        <Button type="button" kind="secondary" onClick={paged.first}>
          First page
        </Button>
      )}
      {paged.data?.next_cursor && (
        <Button type="button" kind="secondary" onClick={paged.next}>
          Next page
        </Button>
      )}
    </nav>
  )
}

/** An action's state: busy while it runs, then its error or what it did. */
export function useAction() {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<string | null>(null)
  const [done, setDone] = useState<string | null>(null)
  const run = async (action: () => Promise<string | null>) => {
    setBusy(true)
    setError(null)
    setDone(null)
    try {
      setDone(await action())
    } catch (caught) {
      setError(messageOf(caught))
    } finally {
      setBusy(false)
    }
  }
  return { busy, error, done, run }
}
