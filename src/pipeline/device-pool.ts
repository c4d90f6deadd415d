// Runs DeviceWork on every core (src/util/worker-pool.ts): one worker thread per lane when the code
// runs from the bundle, else one lane on the main thread (tests running src/, small runs,
// concurrency 1). A batch is split into one contiguous slice per lane; results keep device order.
// Without an in-memory CA key the lanes return TBSCertificates, this side asks the signer (with
// its concurrency in flight) and sends the signatures back to be checked and sealed.
// The worker threads can be started before the run knows what they will do (warmDeviceWorkers, at
// the start of a bake): each loads its bundle while this thread reads the manifest and opens the
// fleet CA, and gets its DeviceWorkInit as its first message.
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import type { BundleFile } from '../bundle/types.js'
import { signAll } from '../issue/sign-all.js'
import type { CaSigner } from '../signer/types.js'
import { asBuffer, RUNNING_BUNDLE, startThreads, type ThreadSpec, type WarmThreads, WorkerPool, workerThreadsFor } from '../util/worker-pool.js'
import type { DeviceOrder, DeviceRequest, DeviceWorkInit, HandedDevice, IssueResult, WriteResult } from './device-work.js'
import { deviceHandler } from './device-work.js'
import { DEVICE_WORKER_ROLE } from './device-worker.js'

/** A batch whose certificates exist (journal lines in `issued`) and whose outputs are not written yet. */
export interface IssuedBatch {
  id: number
  issued: string[]
  /** How many devices each lane holds. */
  slices: number[]
}

export interface DevicePool {
  readonly threads: number
  issue(orders: DeviceOrder[]): Promise<IssuedBatch>
  /** Workers write the batch's outputs (formats with a worker writer): written lines in device order, and the first failure, if any. */
  write(batch: IssuedBatch): Promise<WriteResult>
  /** The batch's bundles, for the main thread's sink (formats without a worker writer), in device order. */
  hand(batch: IssuedBatch): Promise<HandedDevice[]>
  close(): Promise<void>
}

export interface DevicePoolOptions {
  /** Worker threads; 0 means one per core. */
  concurrency: number
  devices: number
  signer: CaSigner
}

/** Device workers started ahead of their DeviceWorkInit; each is used by one pool or terminated. */
export type WarmWorkers = WarmThreads

/** Below this many manifest bytes per shard there cannot be enough devices for workers (a row is a serial and a newline at least). */
const MIN_MANIFEST_BYTES_PER_DEVICE = 4

/** The device workers' own bundle, beside the main bundles (src/pipeline/device-worker-entry.ts). */
const WORKER_BUNDLE = 'device-worker.js'

/** What device threads run: the workers' bundle beside the running one when there is one, else the running bundle itself. */
function deviceThreads(): ThreadSpec {
  const beside = path.join(path.dirname(RUNNING_BUNDLE), WORKER_BUNDLE)
  // A small young generation: a worker's garbage (a few KiB per device) is collected early
  // instead of piling up to V8's default, which is what peak RSS would count.
  return {
    role: DEVICE_WORKER_ROLE,
    script: RUNNING_BUNDLE.endsWith('.js') && existsSync(beside) ? beside : RUNNING_BUNDLE,
    youngGenerationMb: 8,
    what: 'an issuance worker'
  }
}

/**
 * Start the device workers a bake of this manifest will use, before the manifest is read:
 * `workerThreadsFor` decides on the number of devices, guessed here from the file's size (a
 * mistaken guess costs the workers' start-up, and createDevicePool terminates them). They do not
 * keep the process alive until a pool takes them. Undefined when no workers would be used.
 */
export function warmDeviceWorkers(options: { concurrency: number; manifestPath: string; shards: number }): WarmWorkers | undefined {
  let bytes: number
  try {
    bytes = statSync(options.manifestPath).size
  } catch {
    return undefined // the manifest's own reading reports it
  }
  const devices = Math.floor(bytes / MIN_MANIFEST_BYTES_PER_DEVICE / Math.max(1, options.shards))
  const threads = workerThreadsFor({ concurrency: options.concurrency, devices })
  return threads === 0 ? undefined : startThreads(deviceThreads(), threads)
}

export function createDevicePool(init: Omit<DeviceWorkInit, 'key' | 'signer'>, options: DevicePoolOptions, warm?: WarmWorkers): DevicePool {
  const key = options.signer.inProcessKey
  const full: DeviceWorkInit = { ...init, ...(key ? { key } : { signer: options.signer.description }) }
  const threads = workerThreadsFor(options)
  const pool = new WorkerPool<DeviceWorkInit, DeviceRequest, unknown>({ spec: deviceThreads(), threads, init: full, open: deviceHandler, ...(warm ? { warm } : {}) })
  return new LanePool(pool, options.signer)
}

class LanePool implements DevicePool {
  private nextId = 0

  constructor(
    private readonly pool: WorkerPool<DeviceWorkInit, DeviceRequest, unknown>,
    private readonly signer: CaSigner
  ) {}

  get threads(): number {
    return this.pool.threads
  }

  async issue(orders: DeviceOrder[]): Promise<IssuedBatch> {
    const id = this.nextId++
    const lanes = this.pool.threads
    const size = Math.ceil(orders.length / lanes)
    const slices = Array.from({ length: lanes }, (_, index) => orders.slice(index * size, (index + 1) * size))
    try {
      const results = await Promise.all(
        slices.map((slice, lane) => (slice.length ? (this.pool.call(lane, { method: 'issue', id, orders: slice }) as Promise<IssueResult>) : Promise.resolve({ issued: [] })))
      )
      let issued: string[]
      if (results.every((result) => 'issued' in result)) {
        issued = results.flatMap((result) => (result as { issued: string[] }).issued)
      } else {
        issued = await this.signAndSeal(id, slices, results)
      }
      return { id, issued, slices: slices.map((slice) => slice.length) }
    } catch (error) {
      for (let lane = 0; lane < lanes; lane++) this.pool.tell(lane, { method: 'drop', id })
      throw error
    }
  }

  async write(batch: IssuedBatch): Promise<WriteResult> {
    const results = await this.eachLane(batch, (lane) => this.pool.call(lane, { method: 'write', id: batch.id }) as Promise<WriteResult>, { written: [], paths: [] })
    const merged: WriteResult = { written: [], paths: [] }
    for (const result of results) {
      merged.written.push(...result.written)
      merged.paths.push(...result.paths)
      merged.error ??= result.error
    }
    return merged
  }

  async hand(batch: IssuedBatch): Promise<HandedDevice[]> {
    const results = await this.eachLane(batch, (lane) => this.pool.call(lane, { method: 'hand', id: batch.id }) as Promise<HandedDevice[]>, [])
    // Structured clone turns Buffers into Uint8Arrays: make the file contents Buffers again.
    return results.flat().map((handed) => ({ ...handed, files: handed.files.map(revivedFile) }))
  }

  /** Stop the workers (again: a no-op). */
  close(): Promise<void> {
    return this.pool.close()
  }

  private eachLane<T>(batch: IssuedBatch, ask: (lane: number) => Promise<T>, none: T): Promise<T[]> {
    return Promise.all(batch.slices.map((count, lane) => (count ? ask(lane) : Promise.resolve(none))))
  }

  private async signAndSeal(id: number, slices: DeviceOrder[][], results: IssueResult[]): Promise<string[]> {
    const items = results.flatMap((result, index) =>
      'tbs' in result ? result.tbs.map((tbs, position) => ({ tbs: asBuffer(tbs), serial: slices[index]?.[position]?.device.serial ?? '' })) : []
    )
    const signatures = await signAll(this.signer, items)
    let offset = 0
    // Each lane checks its signatures while it seals (in parallel); a refusal in an earlier lane
    // is the first in device order, so it is the one reported.
    const sealed = await Promise.allSettled(
      slices.map((slice, lane) => {
        const mine = signatures.slice(offset, offset + slice.length)
        offset += slice.length
        return slice.length ? (this.pool.call(lane, { method: 'seal', id, signatures: mine }) as Promise<{ issued: string[] }>) : Promise.resolve({ issued: [] })
      })
    )
    const refused = sealed.find((result) => result.status === 'rejected')
    if (refused) throw refused.reason
    return sealed.flatMap((result) => (result as PromiseFulfilledResult<{ issued: string[] }>).value.issued)
  }
}

function revivedFile(file: BundleFile): BundleFile {
  return Buffer.isBuffer(file.content) ? file : { ...file, content: asBuffer(file.content) }
}
