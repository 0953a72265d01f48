// Every job the service knows; workers and the API process register exactly this list.
import type { JobDefinition } from '../define.ts'

export const jobDefinitions: JobDefinition<unknown>[] = []
