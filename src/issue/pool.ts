// Issuance on every core: a pool of worker threads when the code runs from the bundle, the main
// thread otherwise (tests running src/ directly, or concurrency 1). Results keep device order.
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { FleetCa } from '../ca/types.js'
import { CredbakeError, type ErrorKind } from '../errors.js'
import type { Device } from '../manifest/types.js'
import { issueCredential } from './issue.js'
import type { CertificateProfile, IssuedCredential } from './types.js'
import { ISSUER_ROLE, type IssuerInit, type IssuerReply, type SerializedError } from './worker.js'

export interface Issuer {
  /** Issue credentials for `devices`, in their order. */
  issue(devices: Device[]): Promise<IssuedCredential[]>
  readonly threads: number
  close(): Promise<void>
}

/** Below this many devices starting threads costs more than it saves. */
const MIN_DEVICES_FOR_WORKERS = 200

export function createIssuer(ca: FleetCa, profile: CertificateProfile, now: Date, options: { concurrency: number; devices: number }): Issuer {
  const threads = options.concurrency === 0 ? os.availableParallelism() : options.concurrency
  const script = fileURLToPath(import.meta.url)
  // Workers re-run this file: only possible for the bundled JavaScript, not for src/*.ts.
  const bundled = script.endsWith('.js')
  if (threads <= 1 || !bundled || options.devices < MIN_DEVICES_FOR_WORKERS) return inProcessIssuer(ca, profile, now)
  return new WorkerIssuer(script, { role: ISSUER_ROLE, ca, profile, now }, threads)
}

function inProcessIssuer(ca: FleetCa, profile: CertificateProfile, now: Date): Issuer {
  return {
    threads: 1,
    issue: async (devices) => devices.map((device) => issueCredential(ca, profile, device, now)),
    close: async () => {}
  }
}

class WorkerIssuer implements Issuer {
  private readonly workers: Worker[]
  private readonly waiting = new Map<number, { resolve: (c: IssuedCredential[]) => void; reject: (e: Error) => void }>()
  private nextId = 0

  constructor(script: string, init: IssuerInit, readonly threads: number) {
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
        return new Promise<IssuedCredential[]>((resolve, reject) => {
          this.waiting.set(id, { resolve, reject })
          worker.postMessage({ id, devices: slice })
        })
      })
    )
    return parts.flat().map(revive)
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()))
  }

  private settle(reply: IssuerReply): void {
    const waiter = this.waiting.get(reply.id)
    if (!waiter) return
    this.waiting.delete(reply.id)
    if ('error' in reply) waiter.reject(reviveError(reply.error))
    else waiter.resolve(reply.credentials)
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error)
    this.waiting.clear()
  }
}

/** Structured clone turns Buffers into Uint8Arrays: make them Buffers again. */
function revive(credential: IssuedCredential): IssuedCredential {
  const der = credential.certificateDer as Uint8Array
  return Buffer.isBuffer(der) ? credential : { ...credential, certificateDer: Buffer.from(der.buffer, der.byteOffset, der.byteLength) }
}

function reviveError(error: SerializedError): CredbakeError {
  return new CredbakeError(error.kind as ErrorKind, error.message, {
    input: error.input,
    file: error.file,
    line: error.line,
    serial: error.serial
  })
}
