// What a journal says, condensed to what resuming needs: per serial, the certificate whose output
// was last completed. Small per device (no PEMs, no manifest entries), so 100,000 devices fit.
import type { JournalRecord, RunIdentity } from './journal.js'
import { readJournal } from './journal.js'

export interface CompletedOutput {
  deviceId: string
  certificateSha256: string
  path: string
  sha256: string
}

export interface JournalState {
  /** Identity of the last run recorded; undefined for a new output-dir. */
  identity?: RunIdentity
  /** Per serial, the last completed output. */
  completed: Map<string, CompletedOutput>
  /** Record index of the last run started with overwrite: certificates before it are replaced. */
  overwriteFrom: number
  records: number
}

export async function loadJournalState(outputDir: string): Promise<JournalState> {
  const state: JournalState = { completed: new Map(), overwriteFrom: 0, records: 0 }
  for await (const record of readJournal(outputDir)) apply(state, record)
  return state
}

function apply(state: JournalState, record: JournalRecord): void {
  const index = state.records++
  switch (record.type) {
    case 'run':
      state.identity = record.identity
      if (record.overwrite) {
        state.overwriteFrom = index
        state.completed.clear()
      }
      break
    case 'written':
      state.completed.set(record.serial, {
        deviceId: record.entry.deviceId,
        certificateSha256: record.certificateSha256,
        path: record.entry.output.path,
        sha256: record.entry.output.sha256
      })
      break
    default:
      break
  }
}

/** Names of identity fields that differ, for a message. */
export function identityDifferences(a: RunIdentity, b: RunIdentity): string[] {
  return (Object.keys(a) as Array<keyof RunIdentity>).filter((key) => a[key] !== b[key])
}
