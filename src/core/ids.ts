import { v7 } from 'uuid'

/** Time-ordered UUIDs (v7): ids sort by creation, which keeps cursors and b-tree inserts cheap. */
export const newId = (): string => v7()
