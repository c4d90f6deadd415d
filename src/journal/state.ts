// What a journal says, condensed to what a new run needs: per serial, the output that is live on
// disk now (the last one written and not retired) and what shaped its certificate. Small per
// device (no PEMs, no file lists), so 100,000 devices fit.
import { readJournal } from './journal.js'
import type { JournalRecord, RunBasis, RunIdentity } from './records.js'

export interface LiveOutput {
  certificateSha256: string
  path: string
  sha256: string
  /** The bmap written beside it (input bmap), which resume checks too. */
  bmap?: { path: string; sha256: string }
  /** JSON of the device basis its certificate was issued with. */
  deviceBasis: string
  /** JSON of the basis of the run that issued it (shared between devices of a run). */
  runBasis: string
  /** Written before the last run started with overwrite: not to be kept, only replaced. */
  beforeOverwrite: boolean
}

export interface JournalState {
  /** Identity of the last run recorded; undefined for a new output-dir. */
  identity?: RunIdentity
  basis?: RunBasis
  /** True when the journal began in format 1 (credbake 0.1). */
  legacy: boolean
  /** Per serial, the output live on disk now. */
  live: Map<string, LiveOutput>
  records: number
}

export async function loadJournalState(outputDir: string): Promise<JournalState> {
  const state: JournalState = { live: new Map(), records: 0, legacy: false }
  const issued = new Map<string, { deviceBasis: string; runBasis: string }>()
  let runBasis = ''
  for await (const { record } of readJournal(outputDir)) {
    state.records++
    apply(state, record)
  }
  return state

  function apply(state: JournalState, record: JournalRecord): void {
    switch (record.type) {
      case 'run':
        if (state.records === 1 && record.identity.shard === '') state.legacy = true
        state.identity = record.identity
        state.basis = record.basis
        runBasis = JSON.stringify(record.basis)
        if (record.overwrite) for (const output of state.live.values()) output.beforeOverwrite = true
        // Issued records of an earlier run that never got an output cannot be completed now.
        issued.clear()
        break
      case 'issued':
        issued.set(record.certificate.sha256, { deviceBasis: JSON.stringify(record.basis), runBasis })
        break
      case 'written': {
        const basis = issued.get(record.certificateSha256)
        if (!basis) break // a duplicate 'written' for a certificate already handled
        issued.delete(record.certificateSha256)
        state.live.set(record.serial, {
          certificateSha256: record.certificateSha256,
          path: record.output.path,
          sha256: record.output.sha256,
          ...(record.output.bmap ? { bmap: record.output.bmap } : {}),
          ...basis,
          beforeOverwrite: false
        })
        break
      }
      case 'retired':
        if (state.live.get(record.serial)?.certificateSha256 === record.certificateSha256) state.live.delete(record.serial)
        break
      default:
        break
    }
  }
}
