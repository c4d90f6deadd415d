// The per-device step of every bake, one batch at a time, on whichever thread runs it (a device
// worker, or the main thread when there are none): issue (key pair, TBSCertificate and, with an
// in-memory CA key, the signature: the one place that decides between signing here and handing
// TBSCertificates to the main thread's signer), seal (the certificates around signatures the main
// thread got from a token, KMS or signer program, each verified with the fleet CA's public key
// first: on the worker threads, in parallel), then the bundle. Where the output is written is the
// format's business: a format with a worker writer (tar, dir) is written here (`write`: output and
// its record); any other (images) is handed to the main thread's sink (`hand`).
// The main thread journals what comes back: `issued` lines (fsync'd) before it asks for `write`,
// or before the sink writes each device's key, so no key reaches the disk before its certificate
// is journaled. With a worker writer, keys never leave this object.
import type { KeyObject } from 'node:crypto'
import { buildBundle, type BundleOptions } from '../bundle/build.js'
import type { BundleFile } from '../bundle/types.js'
import type { FleetCa } from '../ca/types.js'
import { serializeError, type SerializedError } from '../errors.js'
import { buildTbs, issueCredential, sealSigned, type UnsignedCredential } from '../issue/issue.js'
import type { CertificateProfile } from '../shapes/profile.js'
import type { IssuedCredential } from '../issue/types.js'
import { encodeRecord } from '../journal/journal.js'
import type { Device } from '../manifest/types.js'
import type { OutputWriter, OutputWriterSpec } from '../formats/types.js'
import { outputFormat } from '../formats/registry.js'
import { DeviceBasisMaker } from './basis.js'
import { issuedRecord, writtenRecord, type Replaces } from './journal-records.js'

export interface DeviceWorkInit {
  ca: FleetCa
  profile: CertificateProfile
  now: Date
  /** The in-memory CA key when the signer has one; else `issue` returns TBSCertificates to sign. */
  key?: KeyObject
  /** Without `key`: who signs (the signer's description), named when `seal` refuses a signature. */
  signer?: string
  bundle: BundleOptions
  /** Set when this format's outputs are written here (tar, dir); else they are handed over (`hand`). */
  writer?: OutputWriterSpec
  /** The run's id, as its journal records carry it. */
  run: string
}

export interface DeviceOrder {
  device: Device
  /** The live certificate this one replaces, and why. */
  replaces?: Replaces
}

/** Journal lines of the batch's certificates, or the TBSCertificates still to be signed. */
export type IssueResult = { issued: string[] } | { tbs: Buffer[] }

export interface WriteResult {
  /** Journal lines of the outputs written, in order (those before a failure). */
  written: string[]
  /** Paths (relative to output-dir) of those outputs. */
  paths: string[]
  /** The failure that stopped the batch; nothing after it was written. */
  error?: SerializedError
}

/** One device of a batch whose output the main thread writes through its sink (images). */
export interface HandedDevice {
  device: Device
  certificateSha256: string
  files: BundleFile[]
}

/** What the main thread may ask of a DeviceWork (the device workers' requests). */
export type DeviceRequest =
  | { method: 'issue'; id: number; orders: DeviceOrder[] }
  | { method: 'seal'; id: number; signatures: Uint8Array[] }
  | { method: 'write'; id: number }
  | { method: 'hand'; id: number }
  | { method: 'drop'; id: number }

/** The device workers' handler: one DeviceWork, its methods by name. */
export function deviceHandler(init: DeviceWorkInit): (request: DeviceRequest) => unknown {
  const work = new DeviceWork(init)
  return (request) => {
    switch (request.method) {
      case 'issue':
        return work.issue(request.id, request.orders)
      case 'seal':
        return work.seal(request.id, request.signatures)
      case 'write':
        return work.write(request.id)
      case 'hand':
        return work.hand(request.id)
      case 'drop':
        return work.drop(request.id)
    }
  }
}

interface Batch {
  orders: DeviceOrder[]
  unsigned?: UnsignedCredential[]
  credentials?: IssuedCredential[]
}

export class DeviceWork {
  private readonly batches = new Map<number, Batch>()
  private readonly basisMaker: DeviceBasisMaker
  private readonly writer: OutputWriter | undefined

  constructor(private readonly init: DeviceWorkInit) {
    this.basisMaker = new DeviceBasisMaker(init.profile)
    if (init.writer) {
      const open = outputFormat(init.writer.format).workerWriter
      if (!open) throw new Error(`internal: format ${init.writer.format} has no worker writer`)
      this.writer = open(init.writer)
    }
  }

  issue(id: number, orders: DeviceOrder[]): IssueResult {
    const { ca, profile, now, key } = this.init
    if (key) {
      const credentials = orders.map((order) => issueCredential(ca, profile, order.device, now, key))
      this.batches.set(id, { orders, credentials })
      return { issued: this.issuedLines(orders, credentials) }
    }
    const unsigned = orders.map((order) => buildTbs(ca, profile, order.device, now))
    this.batches.set(id, { orders, unsigned })
    return { tbs: unsigned.map((item) => item.tbs) }
  }

  /** The certificates around the signer's signatures, each checked first (sealSigned): a bad one throws, and nothing of the batch is journaled. */
  seal(id: number, signatures: Uint8Array[]): { issued: string[] } {
    const batch = this.batch(id)
    const unsigned = batch.unsigned ?? []
    const signer = this.init.signer ?? 'the fleet CA signer'
    batch.credentials = unsigned.map((item, index) => sealSigned(this.init.ca, item, signatures[index] as Uint8Array, signer))
    batch.unsigned = undefined
    return { issued: this.issuedLines(batch.orders, batch.credentials) }
  }

  /** Write the batch's outputs one after another; none after a failure. Forgets the batch. */
  write(id: number): WriteResult {
    const batch = this.batch(id)
    this.batches.delete(id)
    const writer = this.writer
    if (!writer) throw new Error('internal: this format is written on the main thread, not by device workers')
    const result: WriteResult = { written: [], paths: [] }
    for (const credential of batch.credentials ?? []) {
      try {
        const output = writer.write(credential.device, buildBundle(credential, this.init.bundle))
        result.written.push(encodeRecord(writtenRecord(this.init.run, credential.device.serial, credential.sha256, output)))
        result.paths.push(output.path)
      } catch (error) {
        result.error = serializeError(error)
        break
      }
    }
    try {
      writer.idle?.()
    } catch (error) {
      result.error ??= serializeError(error)
    }
    return result
  }

  /** The batch's bundles, for the main thread's sink (images), in device order. Forgets the batch. */
  hand(id: number): HandedDevice[] {
    const batch = this.batch(id)
    this.batches.delete(id)
    return (batch.credentials ?? []).map((credential) => ({
      device: credential.device,
      certificateSha256: credential.sha256,
      files: buildBundle(credential, this.init.bundle)
    }))
  }

  /** Forget a batch that will not be written (the run is failing). */
  drop(id: number): void {
    this.batches.delete(id)
  }

  private issuedLines(orders: DeviceOrder[], credentials: IssuedCredential[]): string[] {
    return credentials.map((credential, index) => encodeRecord(issuedRecord(this.init.run, this.basisMaker, credential, orders[index]?.replaces)))
  }

  private batch(id: number): Batch {
    const batch = this.batches.get(id)
    if (!batch) throw new Error(`internal: no batch ${id} in this issuance worker`)
    return batch
  }
}
