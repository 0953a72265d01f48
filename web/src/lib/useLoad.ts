import { useCallback, useEffect, useRef, useState } from 'react'
import { messageOf } from './session.ts'

export interface Loaded<T> {
  data: T | null
  error: string | null
  reload: () => Promise<void>
}

/**
 * Runs `load` on mount and whenever `key` (the values it reads) changes; `reload` runs it again
 * after a change the page made. An answer that arrives after the key changed is dropped.
 */
export function useLoad<T>(load: () => Promise<T>, key: readonly unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<string | null>(null)
  const latest = useRef(load)
  latest.current = load
  const generation = useRef(0)
  const run = useCallback(async () => {
    const mine = ++generation.current
    try {
      const loaded = await latest.current()
      if (mine !== generation.current) return
      setData(loaded)
      setError(null)
    } catch (caught) {
      if (mine === generation.current) setError(messageOf(caught))
    }
  }, [])
  const keyText = JSON.stringify(key)
  useEffect(() => {
    if (keyText !== undefined) void run()
  }, [keyText, run])
  return { data, error, reload: run }
}
