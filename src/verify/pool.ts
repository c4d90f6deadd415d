// Checking device entries on every core (src/util/worker-pool.ts): worker threads re-run the
// running bundle, get what every check needs once (the manifest header, the trust, the folders),
// then batches of entries as the manifest's own bytes (transferred, not copied) and answer each
// with one result per entry. From src/ (tests) and for small manifests the main thread checks them
// itself.
import { X509Certificate } from 'node:crypto'
import { serveWorker, startThreads, type ThreadSpec, type WarmThreads, WorkerPool, workerThreadsFor } from '../util/worker-pool.js'
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

export interface EntryChecker {
  readonly threads: number
  check(batch: EntryBatch): Promise<EntryResult[]>
  close(): Promise<void>
}

/** A small young generation, as the device workers have: a worker's garbage is collected early. */
const VERIFIER_THREADS: ThreadSpec = { role: VERIFIER_ROLE, youngGenerationMb: 8, what: 'a verify worker' }

/** One batch's results as one JSON text: cheaper to send between threads than as objects (structured clone). */
function verifierHandler(init: VerifierInit): (batch: EntryBatch) => Promise<string> {
  const checker = new DeviceChecker({ outputDir: init.outputDir, header: init.header, tempDir: init.tempDir, trust: init.trust.map((der) => new X509Certificate(der)) })
  return async (batch) => {
    const results: EntryResult[] = []
    for (const entry of entryTexts(batch.bytes, batch.offsets, batch.first)) results.push(await checker.check(entry.index, entry.text))
    return JSON.stringify(results)
  }
}

/** Verify worker threads started before the manifest is read (they load the bundle meanwhile); init comes later. */
export type WarmCheckers = WarmThreads

/**
 * Start the worker threads a verify of about `devices` entries will use, before their init is
 * known: each loads and compiles the bundle while this thread scans the manifest. Undefined when
 * the checks will run on this thread.
 */
export function warmEntryCheckers(options: { concurrency: number; devices: number }): WarmCheckers | undefined {
  const threads = workerThreadsFor(options)
  return threads === 0 ? undefined : startThreads(VERIFIER_THREADS, threads)
}

/** `concurrency` 0: one thread per core; fewer than workerThreadsFor's minimum of devices: this thread (unless `warm` workers were started). */
export function createEntryChecker(init: VerifierInit, options: { concurrency: number; devices: number }, warm?: WarmCheckers): EntryChecker {
  const threads = warm ? warm.threads : workerThreadsFor(options)
  const pool = new WorkerPool<VerifierInit, EntryBatch, string>({ spec: VERIFIER_THREADS, threads, init, open: verifierHandler, ...(warm ? { warm } : {}) })
  return {
    threads: pool.threads,
    check: async (batch) => {
      // The bytes are moved to the thread when they are a whole buffer of their own.
      const bytes = batch.bytes
      const transfer = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer ? [bytes.buffer] : []
      return JSON.parse(await pool.callAny(batch, transfer)) as EntryResult[]
    },
    close: () => pool.close()
  }
}

/** When this thread is a verify worker, serve batches (one at a time, in order) and return true; else false. */
export function runIfVerifierWorker(): boolean {
  return serveWorker(VERIFIER_ROLE, verifierHandler)
}
