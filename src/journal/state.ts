// What a journal says, condensed to what a new run needs: per serial, the output that is live on
// disk now (the last one written and not retired) and what shaped its certificate. Small per
// device (no PEMs, no file lists), so 100,000 devices fit; the journal is read in big chunks,
// never whole, and no record is parsed in full that need not be.
import { AT, BASIS, CERTIFICATE, CERTIFICATE_SHA256, FieldCursor, ISSUED, OUTPUT, SERIAL, SHA256, SIZE, WRITTEN, bytesOf } from './fields.js'
import { scanJournal, type JournalLine } from './journal.js'
import type { IssuedRecord, RetiredRecord, RunBasis, RunIdentity, RunRecord, WrittenRecord } from './records.js'

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

const cursor = new FieldCursor()
const OUTPUT_END = bytesOf('},"files":')

/** An issued record's certificate digest and device basis; read in place when laid out as written. */
function issuedFields(line: JournalLine): { sha256: string; deviceBasis: string } {
  const c = cursor.on(line)
  if (c.literal(ISSUED) && c.skip() && c.literal(AT) && c.skip() && c.literal(SERIAL) && c.skip() && c.literal(BASIS) && c.skip()) {
    const basis = c.lastValueText()
    let sha256: string | undefined
    if (c.literal(CERTIFICATE) && c.skip() && c.literal(SHA256) && (sha256 = c.string()) !== undefined) {
      // Re-serialised, so that the text is JSON.stringify's whoever encoded the line.
      return { sha256, deviceBasis: JSON.stringify(JSON.parse(basis)) }
    }
  }
  const record = line.record() as IssuedRecord
  return { sha256: record.certificate.sha256, deviceBasis: JSON.stringify(record.basis) }
}

/** A written record's serial, certificate and output (path, digest, bmap). */
function writtenFields(line: JournalLine): { serial: string; certificateSha256: string; path: string; sha256: string; bmap?: { path: string; sha256: string } } {
  const c = cursor.on(line)
  let serial, certificateSha256, outputPath, sha256: string | undefined
  if (
    c.literal(WRITTEN) && c.skip() && c.literal(AT) && c.skip() &&
    c.literal(SERIAL) && (serial = c.string()) !== undefined &&
    c.literal(CERTIFICATE_SHA256) && (certificateSha256 = c.string()) !== undefined &&
    c.literal(OUTPUT) && (outputPath = c.string()) !== undefined &&
    c.literal(SIZE) && c.skip() &&
    c.literal(SHA256) && (sha256 = c.string()) !== undefined &&
    c.literal(OUTPUT_END) // no partition, no bmap: else the parsed record below
  ) {
    return { serial, certificateSha256, path: outputPath, sha256 }
  }
  const record = line.record() as WrittenRecord
  return {
    serial: record.serial,
    certificateSha256: record.certificateSha256,
    path: record.output.path,
    sha256: record.output.sha256,
    ...(record.output.bmap ? { bmap: record.output.bmap } : {})
  }
}

/**
 * Reads the journal in big chunks; records that matter to few devices (run, retired) are parsed,
 * the per-device ones (issued, written) read in place for the few fields kept.
 */
export async function loadJournalState(outputDir: string): Promise<JournalState> {
  const state: JournalState = { live: new Map(), records: 0, legacy: false }
  const issued = new Map<string, { deviceBasis: string; runBasis: string }>()
  let runBasis = ''
  await scanJournal(outputDir, (line) => {
    state.records++
    apply(line)
  })
  return state

  function apply(line: JournalLine): void {
    switch (line.type) {
      case 'run': {
        const record = line.record() as RunRecord
        if (state.records === 1 && record.identity.shard === '') state.legacy = true
        state.identity = record.identity
        state.basis = record.basis
        runBasis = JSON.stringify(record.basis)
        if (record.overwrite) for (const output of state.live.values()) output.beforeOverwrite = true
        // Issued records of an earlier run that never got an output cannot be completed now.
        issued.clear()
        break
      }
      case 'issued': {
        const { sha256, deviceBasis } = issuedFields(line)
        issued.set(sha256, { deviceBasis, runBasis })
        break
      }
      case 'written': {
        const written = writtenFields(line)
        const basis = issued.get(written.certificateSha256)
        if (!basis) break // a duplicate 'written' for a certificate already handled
        issued.delete(written.certificateSha256)
        state.live.set(written.serial, {
          certificateSha256: written.certificateSha256,
          path: written.path,
          sha256: written.sha256,
          ...(written.bmap ? { bmap: written.bmap } : {}),
          ...basis,
          beforeOverwrite: false
        })
        break
      }
      case 'retired': {
        const record = line.record() as RetiredRecord
        if (state.live.get(record.serial)?.certificateSha256 === record.certificateSha256) state.live.delete(record.serial)
        break
      }
      default:
        break
    }
  }
}
