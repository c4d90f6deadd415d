// What a journal says, condensed to what a new run needs: per serial, the output that is live on
// disk now (the last one written and not retired) and what shaped its certificate. Small per
// device (no PEMs, no file lists), so 100,000 devices fit; the journal is read in big chunks,
// never whole, and no record is parsed in full that need not be.
import { AT, BASIS, CERTIFICATE, CERTIFICATE_SHA256, FieldCursor, ISSUED, OUTPUT, SERIAL, SHA256, SIZE, WRITTEN, bytesOf } from './fields.js'
import { scanJournal, type JournalLine } from './journal.js'
import type { CrlRecord, IssuedRecord, RetiredRecord, RevokedRecord, RunBasis, RunIdentity, RunRecord, WrittenRecord } from './records.js'
import { RowIndex } from '../manifest/list.js'
import { OUTPUT_FOLDERS } from '../formats/registry.js'
import { outputPathProblem } from '../util/confined.js'
import { DigestColumn } from '../util/digest-column.js'

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
  live: LiveOutputs
  records: number
  /** Every revocation journaled by `credbake revoke`, by certificate serial number (hex). */
  revocations: Map<string, RevokedRecord>
  /**
   * Per serial, the revocation of its latest certificate: such a device is not baked again
   * (until a run asks to reissue it, which writes it a new certificate and clears this).
   */
  revokedDevices: Map<string, RevokedRecord>
  /** The last CRL journaled for this output-dir (the highest number), if any. */
  lastCrl?: CrlRecord
}

/** Stands for the serial in a template; JSON.stringify never writes it unescaped. */
const MARK = '\u0001'
/** Distinct templates kept; texts beyond them are kept as they are. */
const MAX_TEMPLATES = 4096

/**
 * Texts that mostly differ from device to device by the serial alone (output paths, device bases):
 * kept as the number of a shared template in which the serial is marked, else as they are.
 */
class SerialTemplates {
  private readonly ids = new Map<string, number>()
  private readonly texts: string[] = []

  encode(text: string, serial: string): number | string {
    if (serial === '' || text.includes(MARK)) return text
    const template = text.split(serial).join(MARK)
    let id = this.ids.get(template)
    if (id === undefined) {
      if (this.texts.length >= MAX_TEMPLATES) return text
      id = this.texts.length
      this.texts.push(template)
      this.ids.set(template, id)
    }
    return id
  }

  decode(code: number | string, serial: string): string {
    return typeof code === 'string' ? code : (this.texts[code] as string).split(MARK).join(serial)
  }
}

const ALIVE = 1
const BEFORE_OVERWRITE = 2

/**
 * Per serial, its live output: a Map's behaviour (get, set, delete, size, iteration in insertion
 * order) over columns instead of an object and six strings per device, so that resuming
 * 100,000 devices holds some 14 MB instead of 45. Each `get` makes the LiveOutput anew.
 */
export class LiveOutputs implements Iterable<[string, LiveOutput]> {
  private readonly serials: string[] = []
  private flags = new Uint8Array(1024)
  private readonly certificates = new DigestColumn()
  private readonly outputs = new DigestColumn()
  private readonly paths: Array<number | string> = []
  private readonly deviceBases: Array<number | string> = []
  private readonly runBases: number[] = []
  private readonly bmaps = new Map<number, { path: string; sha256: string }>()
  private readonly templates = new SerialTemplates()
  private readonly runBasisTexts: string[] = []
  private readonly index = new RowIndex((row) => this.serials[row] as string)
  private count = 0

  get size(): number {
    return this.count
  }

  get(serial: string): LiveOutput | undefined {
    const row = this.rowOf(serial)
    return row === -1 ? undefined : this.output(row)
  }

  has(serial: string): boolean {
    return this.rowOf(serial) !== -1
  }

  /** As Map#set: a serial already live keeps its place in the order. */
  set(serial: string, live: LiveOutput): this {
    let row = this.rowOf(serial)
    if (row === -1) {
      row = this.serials.length
      this.serials.push(serial)
      if (row >= this.flags.length) {
        const bigger = new Uint8Array(this.flags.length * 2)
        bigger.set(this.flags)
        this.flags = bigger
      }
      this.index.replace(row)
      this.count++
    }
    this.certificates.set(row, live.certificateSha256)
    this.outputs.set(row, live.sha256)
    this.paths[row] = this.templates.encode(live.path, serial)
    this.deviceBases[row] = this.templates.encode(live.deviceBasis, serial)
    let runBasis = this.runBasisTexts.lastIndexOf(live.runBasis)
    if (runBasis === -1) runBasis = this.runBasisTexts.push(live.runBasis) - 1
    this.runBases[row] = runBasis
    if (live.bmap) this.bmaps.set(row, { path: live.bmap.path, sha256: live.bmap.sha256 })
    else this.bmaps.delete(row)
    this.flags[row] = ALIVE | (live.beforeOverwrite ? BEFORE_OVERWRITE : 0)
    return this
  }

  delete(serial: string): boolean {
    const row = this.rowOf(serial)
    if (row === -1) return false
    this.flags[row] = 0
    this.bmaps.delete(row)
    this.count--
    return true
  }

  /** Every live output was written before an overwrite began. */
  markBeforeOverwrite(): void {
    for (let row = 0; row < this.serials.length; row++) if (this.flags[row]! & ALIVE) this.flags[row]! |= BEFORE_OVERWRITE
  }

  *[Symbol.iterator](): Iterator<[string, LiveOutput]> {
    for (let row = 0; row < this.serials.length; row++) {
      if (this.flags[row]! & ALIVE) yield [this.serials[row] as string, this.output(row)]
    }
  }

  private rowOf(serial: string): number {
    const row = this.index.find(serial)
    return row !== -1 && this.flags[row]! & ALIVE ? row : -1
  }

  private output(row: number): LiveOutput {
    const serial = this.serials[row] as string
    const bmap = this.bmaps.get(row)
    return {
      certificateSha256: this.certificates.get(row),
      path: this.templates.decode(this.paths[row] as number | string, serial),
      sha256: this.outputs.get(row),
      ...(bmap ? { bmap: { ...bmap } } : {}),
      deviceBasis: this.templates.decode(this.deviceBases[row] as number | string, serial),
      runBasis: this.runBasisTexts[this.runBases[row] as number] as string,
      beforeOverwrite: (this.flags[row]! & BEFORE_OVERWRITE) !== 0
    }
  }
}

const cursor = new FieldCursor()
const OUTPUT_END = bytesOf('},"files":')

/** An issued record's serial, certificate digest and device basis; read in place when laid out as written. */
function issuedFields(line: JournalLine): { serial: string; sha256: string; deviceBasis: string } {
  const c = cursor.on(line)
  let serial: string | undefined
  if (c.literal(ISSUED) && c.skip() && c.literal(AT) && c.skip() && c.literal(SERIAL) && (serial = c.string()) !== undefined && c.literal(BASIS) && c.skip()) {
    const basis = c.lastValueText()
    let sha256: string | undefined
    if (c.literal(CERTIFICATE) && c.skip() && c.literal(SHA256) && (sha256 = c.string()) !== undefined) {
      // Re-serialised, so that the text is JSON.stringify's whoever encoded the line.
      return { serial, sha256, deviceBasis: JSON.stringify(JSON.parse(basis)) }
    }
  }
  const record = line.record() as IssuedRecord
  return { serial: record.serial, sha256: record.certificate?.sha256, deviceBasis: JSON.stringify(record.basis) }
}

/** A written record's serial, certificate and output (path, digest, bmap). */
function writtenFields(line: JournalLine): { serial: string; certificateSha256: string; path: string; sha256: string; bmap?: { path: string; sha256: string } } {
  const c = cursor.on(line)
  let serial, certificateSha256, outputPath, sha256: string | undefined
  if (
    c.literal(WRITTEN) &&
    c.skip() &&
    c.literal(AT) &&
    c.skip() &&
    c.literal(SERIAL) &&
    (serial = c.string()) !== undefined &&
    c.literal(CERTIFICATE_SHA256) &&
    (certificateSha256 = c.string()) !== undefined &&
    c.literal(OUTPUT) &&
    (outputPath = c.string()) !== undefined &&
    c.literal(SIZE) &&
    c.skip() &&
    c.literal(SHA256) &&
    (sha256 = c.string()) !== undefined &&
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
 * A path a record names must be an output inside output-dir (FOLDER/SERIAL…) before anything is
 * done with it: the checksum does not stop a forged record (it is unkeyed), and resume hashes,
 * and retirement removes, what these paths name. Anything else is journal damage.
 */
function confine(line: JournalLine, what: string, relative: unknown, serial: string): void {
  const problem = outputPathProblem(relative, OUTPUT_FOLDERS, serial)
  if (problem) {
    throw line.damage(
      `its ${line.type} record of device ${serial} names the ${what} ${JSON.stringify(relative)}, which is not an output inside output-dir (${problem}); credbake touches nothing outside output-dir`
    )
  }
}

/**
 * Reads the journal in big chunks; records that matter to few devices (run, retired) are parsed,
 * the per-device ones (issued, written) read in place for the few fields kept.
 */
export async function loadJournalState(outputDir: string): Promise<JournalState> {
  const state: JournalState = { live: new LiveOutputs(), records: 0, legacy: false, revocations: new Map(), revokedDevices: new Map() }
  const issued = new Map<string, { serial: string; deviceBasis: string; runBasis: string }>()
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
        if (record.overwrite) state.live.markBeforeOverwrite()
        // Issued records of an earlier run that never got an output cannot be completed now.
        issued.clear()
        break
      }
      case 'issued': {
        const { serial, sha256, deviceBasis } = issuedFields(line)
        issued.set(sha256, { serial, deviceBasis, runBasis })
        break
      }
      case 'written': {
        const written = writtenFields(line)
        confine(line, 'output path', written.path, written.serial)
        if (written.bmap) confine(line, 'bmap path', written.bmap.path, written.serial)
        const issuedTo = issued.get(written.certificateSha256)
        if (!issuedTo) break // a duplicate 'written' for a certificate already handled
        // The output path is checked against the written record's serial: the certificate it
        // holds must be one issued to that device (else a forged issued record's serial would
        // reach the review as a device's).
        if (issuedTo.serial !== written.serial) {
          throw line.damage(`its written record of device ${written.serial} names a certificate the journal issued to device ${issuedTo.serial}`)
        }
        issued.delete(written.certificateSha256)
        if (state.revokedDevices.get(written.serial)?.certificateSha256 !== written.certificateSha256) state.revokedDevices.delete(written.serial)
        state.live.set(written.serial, {
          certificateSha256: written.certificateSha256,
          path: written.path,
          sha256: written.sha256,
          ...(written.bmap ? { bmap: written.bmap } : {}),
          deviceBasis: issuedTo.deviceBasis,
          runBasis: issuedTo.runBasis,
          beforeOverwrite: false
        })
        break
      }
      case 'retired': {
        const record = line.record() as RetiredRecord
        confine(line, 'output path', record.path, record.serial)
        if (state.live.get(record.serial)?.certificateSha256 === record.certificateSha256) state.live.delete(record.serial)
        break
      }
      case 'revoked': {
        const record = line.record() as RevokedRecord
        state.revocations.set(record.serialNumber, record)
        state.revokedDevices.set(record.serial, record)
        break
      }
      case 'crl': {
        const record = line.record() as CrlRecord
        if (!/^\d+$/.test(String(record.number))) throw line.damage(`its crl record's number ${JSON.stringify(record.number)} is not a decimal number`)
        if (!state.lastCrl || BigInt(record.number) > BigInt(state.lastCrl.number)) state.lastCrl = record
        break
      }
      default:
        break
    }
  }
}
