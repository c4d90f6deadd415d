// Checking device entries on every core, in the pattern of the issuance pool (src/issue/pool.ts):
// worker threads re-run the running bundle (recognised by their workerData role), get what every
// check needs once (the manifest header, the trust, the folders), then batches of entries as the
// manifest's own bytes (transferred, not copied) and answer each with one result per entry. From
// src/ (tests) and for small manifests the main thread checks them itself.
import { X509Certificate } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'
import { reviveError, serializeError, type SerializedError } from '../errors.js'
import { workerThreadsFor } from '../issue/pool.js'
import { DeviceChecker } from './device.js'
import { entryTexts } from './manifest-scan.js'
import type { EntryResult, VerifiedHeader } from './types.js'

export const VERIFIER_ROLE = 'credbake-verifier'

export interface VerifierInit {
  outputDir: string
  header: VerifiedHeader
  tempDir: string
  /** DER of each trust anchor (X509Certificate objects do not cross threads). */
  trust: Uint8Array[]
}

/** Entries [first, first + offsets.length / 2): their bytes and where each is in them. */
export interface EntryBatch {
  bytes: Uint8Array
  offsets: number[]
  first: number
}

type Request = { id: number; batch: EntryBatch }
type Reply = { id: number; results: EntryResult[] } | { id: number; error: SerializedError }

export interface EntryChecker {
  readonly threads: number
  check(batch: EntryBatch): Promise<EntryResult[]>
  close(): Promise<void>
}

async function checkBatch(checker: DeviceChecker, batch: EntryBatch): Promise<EntryResult[]> {
  const results: EntryResult[] = []
  for (const entry of entryTexts(batch.bytes, batch.offsets, batch.first)) results.push(await checker.check(entry.index, entry.text))
  return results
}

function checkerOf(init: VerifierInit): DeviceChecker {
  return new DeviceChecker({ outputDir: init.outputDir, header: init.header, tempDir: init.tempDir, trust: init.trust.map((der) => new X509Certificate(der)) })
}

/** `concurrency` 0: one thread per core; fewer than workerThreadsFor's minimum of devices: this thread. */
export function createEntryChecker(init: VerifierInit, options: { concurrency: number; devices: number }): EntryChecker {
  const script = fileURLToPath(import.meta.url)
  const threads = workerThreadsFor(options, script)
  if (threads === 0) {
    const checker = checkerOf(init)
    return { threads: 1, check: (batch) => checkBatch(checker, batch), close: async () => {} }
  }
  return new WorkerChecker(script, init, threads)
}

class WorkerChecker implements EntryChecker {
  private readonly workers: Worker[]
  private readonly busy: number[]
  private readonly waiting = new Map<number, { resolve: (results: EntryResult[]) => void; reject: (error: Error) => void }>()
  private nextId = 0

  constructor(script: string, init: VerifierInit, readonly threads: number) {
    this.workers = Array.from({ length: threads }, () => {
      // A small young generation, as the device workers have: a worker's garbage is collected early.
      const worker = new Worker(script, { workerData: { role: VERIFIER_ROLE, init }, resourceLimits: { maxYoungGenerationSizeMb: 8 } })
      worker.on('message', (reply: Reply) => this.settle(reply))
      worker.on('error', (error) => this.failAll(error))
      worker.on('exit', (code) => {
        if (code !== 0) this.failAll(new Error(`a verify worker exited with code ${code}`))
      })
      return worker
    })
    this.busy = this.workers.map(() => 0)
  }

  check(batch: EntryBatch): Promise<EntryResult[]> {
    // The least busy worker takes it.
    const index = this.busy.indexOf(Math.min(...this.busy))
    const worker = this.workers[index] as Worker
    this.busy[index] = (this.busy[index] ?? 0) + 1
    const id = this.nextId++
    return new Promise<EntryResult[]>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      const bytes = batch.bytes
      const transfer = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? [bytes.buffer] : []
      worker.postMessage({ id, batch } satisfies Request, transfer)
    }).finally(() => {
      this.busy[index] = (this.busy[index] ?? 1) - 1
    })
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()))
  }

  private settle(reply: Reply): void {
    const waiter = this.waiting.get(reply.id)
    if (!waiter) return
    this.waiting.delete(reply.id)
    if ('error' in reply) waiter.reject(reviveError(reply.error))
    else waiter.resolve(reply.results)
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error)
    this.waiting.clear()
  }
}

/** When this thread is a verify worker, serve batches (one at a time, in order) and return true; else false. */
export function runIfVerifierWorker(): boolean {
  const data = workerData as { role?: string; init?: VerifierInit } | undefined
  if (isMainThread || data?.role !== VERIFIER_ROLE || !parentPort || !data.init) return false
  const port = parentPort
  const checker = checkerOf(data.init)
  let queue = Promise.resolve()
  port.on('message', (request: Request) => {
    queue = queue.then(async () => {
      let reply: Reply
      try {
        reply = { id: request.id, results: await checkBatch(checker, request.batch) }
      } catch (error) {
        reply = { id: request.id, error: serializeError(error) }
      }
      port.postMessage(reply)
    })
  })
  return true
}
