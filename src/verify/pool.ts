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
import type { ManifestHeader } from '../shapes/review.js'
import type { EntryResult } from './types.js'

export const VERIFIER_ROLE = 'credbake-verifier'

export interface VerifierInit {
  outputDir: string
  header: ManifestHeader
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
/** Results travel as one JSON text per batch: cheaper to send than as objects (structured clone). */
type Reply = { id: number; results: string } | { id: number; error: SerializedError }

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

/** Verify worker threads started before the manifest is read (they load the bundle meanwhile); init comes later. */
export interface WarmCheckers {
  readonly workers: Worker[]
}

/**
 * Start the worker threads a verify of about `devices` entries will use, before their init is
 * known: each loads and compiles the bundle while this thread scans the manifest. Undefined when
 * the checks will run on this thread.
 */
export function warmEntryCheckers(options: { concurrency: number; devices: number }): WarmCheckers | undefined {
  const script = fileURLToPath(import.meta.url)
  const threads = workerThreadsFor(options, script)
  if (threads === 0) return undefined
  // A small young generation, as the device workers have: a worker's garbage is collected early.
  return { workers: Array.from({ length: threads }, () => new Worker(script, { workerData: { role: VERIFIER_ROLE }, resourceLimits: { maxYoungGenerationSizeMb: 8 } })) }
}

/** `concurrency` 0: one thread per core; fewer than workerThreadsFor's minimum of devices: this thread (unless `warm` workers were started). */
export function createEntryChecker(init: VerifierInit, options: { concurrency: number; devices: number }, warm?: WarmCheckers): EntryChecker {
  if (warm) return new WorkerChecker(warm.workers, init)
  const started = warmEntryCheckers(options)
  if (started) return new WorkerChecker(started.workers, init)
  const checker = checkerOf(init)
  return { threads: 1, check: (batch) => checkBatch(checker, batch), close: async () => {} }
}

class WorkerChecker implements EntryChecker {
  private readonly busy: number[]
  private readonly waiting = new Map<number, { resolve: (results: EntryResult[]) => void; reject: (error: Error) => void }>()
  private nextId = 0
  readonly threads: number

  constructor(
    private readonly workers: Worker[],
    init: VerifierInit
  ) {
    this.threads = workers.length
    for (const worker of workers) {
      worker.on('message', (reply: Reply) => this.settle(reply))
      worker.on('error', (error) => this.failAll(error))
      worker.on('exit', (code) => {
        if (code !== 0) this.failAll(new Error(`a verify worker exited with code ${code}`))
      })
      // The first message: what every check needs.
      worker.postMessage({ init })
    }
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
    else waiter.resolve(JSON.parse(reply.results) as EntryResult[])
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error)
    this.waiting.clear()
  }
}

/** When this thread is a verify worker, serve batches (one at a time, in order) and return true; else false. */
export function runIfVerifierWorker(): boolean {
  const data = workerData as { role?: string } | undefined
  if (isMainThread || data?.role !== VERIFIER_ROLE || !parentPort) return false
  const port = parentPort
  let checker: DeviceChecker | undefined
  let queue = Promise.resolve()
  port.on('message', (message: { init: VerifierInit } | Request) => {
    if ('init' in message) {
      checker = checkerOf(message.init)
      return
    }
    const request = message
    queue = queue.then(async () => {
      let reply: Reply
      try {
        if (!checker) throw new Error('internal: a verify worker was asked before its init')
        reply = { id: request.id, results: JSON.stringify(await checkBatch(checker, request.batch)) }
      } catch (error) {
        reply = { id: request.id, error: serializeError(error) }
      }
      port.postMessage(reply)
    })
  })
  return true
}
