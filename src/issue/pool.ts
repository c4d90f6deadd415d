// Issuance on every core: a pool of worker threads when the code runs from the bundle, the main
// thread otherwise (tests running src/ directly, or concurrency 1). Results keep device order.
// With an in-memory CA key the workers sign as they build; with any other signer (a token, KMS or a
// signer program) they build TBSCertificates and the main thread asks the signer, with up to
// `signer.concurrency` signatures in flight, then checks each signature with the fleet CA's public
// key and assembles the certificates.
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { FleetCa } from '../ca/types.js'
import { reviveError } from '../errors.js'
import type { Device } from '../manifest/types.js'
import type { CaSigner } from '../signer/types.js'
import { signAll } from './sign-all.js'
import { buildTbs, issueCredential, sealSigned, type UnsignedCredential } from './issue.js'
import type { CertificateProfile } from '../shapes/profile.js'
import type { IssuedCredential } from './types.js'
import { ISSUER_ROLE, type IssuerInit, type IssuerReply } from './worker.js'

export interface Issuer {
  /** Issue credentials for `devices`, in their order. */
  issue(devices: Device[]): Promise<IssuedCredential[]>
  readonly threads: number
  close(): Promise<void>
}

/** Below this many devices starting threads costs more than it saves. */
const MIN_DEVICES_FOR_WORKERS = 200

/**
 * Worker threads for issuing `devices` (concurrency 0: one per core), or 0 to issue on this thread.
 * Workers re-run `script`, the running file: only possible for the bundled JavaScript, not src/*.ts.
 */
export function workerThreadsFor(options: { concurrency: number; devices: number }, script: string): number {
  const threads = options.concurrency === 0 ? os.availableParallelism() : options.concurrency
  return threads <= 1 || !script.endsWith('.js') || options.devices < MIN_DEVICES_FOR_WORKERS ? 0 : threads
}

export interface IssuerOptions {
  concurrency: number
  devices: number
  /** The fleet CA's signer (checked against `ca` already). */
  signer: CaSigner
}

export function createIssuer(ca: FleetCa, profile: CertificateProfile, now: Date, options: IssuerOptions): Issuer {
  const { signer } = options
  const key = signer.inProcessKey
  const script = fileURLToPath(import.meta.url)
  const threads = workerThreadsFor(options, script)
  if (threads === 0) {
    if (key) {
      return { threads: 1, issue: async (devices) => devices.map((device) => issueCredential(ca, profile, device, now, key)), close: async () => {} }
    }
    return {
      threads: 1,
      issue: async (devices) =>
        signAndAssemble(
          ca,
          signer,
          devices.map((device) => buildTbs(ca, profile, device, now))
        ),
      close: async () => {}
    }
  }
  return new WorkerIssuer(script, { role: ISSUER_ROLE, ca, profile, now, ...(key ? { key } : {}) }, threads, key ? undefined : (unsigned) => signAndAssemble(ca, signer, unsigned))
}

/** Signs every TBSCertificate (see signAll), checks each signature and assembles the certificates, in order. */
async function signAndAssemble(ca: FleetCa, signer: CaSigner, unsigned: UnsignedCredential[]): Promise<IssuedCredential[]> {
  const signatures = await signAll(
    signer,
    unsigned.map((item) => ({ tbs: item.tbs, serial: item.device.serial }))
  )
  // Checked here on the main thread: this path serves images, where a device costs far more than a verification.
  return unsigned.map((item, index) => sealSigned(ca, item, signatures[index] as Uint8Array, signer.description))
}

type Waiter = { resolve: (reply: IssuedCredential[] | UnsignedCredential[]) => void; reject: (e: Error) => void }

class WorkerIssuer implements Issuer {
  private readonly workers: Worker[]
  private readonly waiting = new Map<number, Waiter>()
  private nextId = 0

  constructor(
    script: string,
    init: IssuerInit,
    readonly threads: number,
    private readonly sign?: (unsigned: UnsignedCredential[]) => Promise<IssuedCredential[]>
  ) {
    this.workers = Array.from({ length: threads }, () => {
      const worker = new Worker(script, { workerData: init })
      worker.on('message', (reply: IssuerReply) => this.settle(reply))
      worker.on('error', (error) => this.failAll(error))
      worker.on('exit', (code) => {
        if (code !== 0) this.failAll(new Error(`an issuance worker exited with code ${code}`))
      })
      return worker
    })
  }

  async issue(devices: Device[]): Promise<IssuedCredential[]> {
    // One slice per worker; each slice is one message each way.
    const size = Math.ceil(devices.length / this.workers.length)
    const parts = await Promise.all(
      this.workers.map((worker, index) => {
        const slice = devices.slice(index * size, (index + 1) * size)
        if (slice.length === 0) return Promise.resolve([])
        const id = this.nextId++
        return new Promise<IssuedCredential[] | UnsignedCredential[]>((resolve, reject) => {
          this.waiting.set(id, { resolve, reject })
          worker.postMessage({ id, devices: slice })
        })
      })
    )
    if (this.sign) return this.sign((parts.flat() as UnsignedCredential[]).map(reviveUnsigned))
    return (parts.flat() as IssuedCredential[]).map(revive)
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()))
  }

  private settle(reply: IssuerReply): void {
    const waiter = this.waiting.get(reply.id)
    if (!waiter) return
    this.waiting.delete(reply.id)
    if ('error' in reply) waiter.reject(reviveError(reply.error))
    else waiter.resolve('credentials' in reply ? reply.credentials : reply.unsigned)
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error)
    this.waiting.clear()
  }
}

/** Structured clone turns Buffers into Uint8Arrays: make them Buffers again. */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

function revive(credential: IssuedCredential): IssuedCredential {
  const der = credential.certificateDer as Uint8Array
  return Buffer.isBuffer(der) ? credential : { ...credential, certificateDer: asBuffer(der) }
}

function reviveUnsigned(unsigned: UnsignedCredential): UnsignedCredential {
  return Buffer.isBuffer(unsigned.tbs) ? unsigned : { ...unsigned, tbs: asBuffer(unsigned.tbs) }
}
