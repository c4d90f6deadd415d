// Runs DeviceWork on every core: one worker thread per lane when the code runs from the bundle
// (workers re-enter the same file), else one lane on the main thread (tests running src/, small
// runs, concurrency 1). A batch is split into one contiguous slice per lane; results keep device
// order. Without an in-memory CA key the lanes return TBSCertificates, this side asks the signer
// (with its concurrency in flight) and sends the signatures back to be checked and sealed.
// The worker threads can be started before the run knows what they will do (warmDeviceWorkers,
// at the start of a bake): each loads the bundle while this thread reads the manifest and opens
// the fleet CA, and gets its DeviceWorkInit as its first message.
import { existsSync, statSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Worker } from 'node:worker_threads'
import { reviveError, type SerializedError } from '../errors.js'
import { asBuffer, workerThreadsFor } from '../issue/pool.js'
import { signAll } from '../issue/sign-all.js'
import type { CaSigner } from '../signer/types.js'
import { DeviceWork, type DeviceOrder, type DeviceWorkInit, type IssueResult, type WriteResult } from './device-work.js'
import { DEVICE_WORKER_ROLE, type DeviceWorkerRequest, type DeviceWorkerReply } from './device-worker.js'

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
  /** Write the batch's outputs: written lines in device order, and the first failure, if any. */
  write(batch: IssuedBatch): Promise<WriteResult>
  close(): Promise<void>
}

/** One lane: a DeviceWork here or in a worker thread. */
interface Lane {
  issue(id: number, orders: DeviceOrder[]): Promise<IssueResult>
  seal(id: number, signatures: Uint8Array[]): Promise<{ issued: string[] }>
  write(id: number): Promise<WriteResult>
  drop(id: number): void
  close(): Promise<void>
}

export interface DevicePoolOptions {
  /** Worker threads; 0 means one per core. */
  concurrency: number
  devices: number
  signer: CaSigner
}

/** Device workers started ahead of their DeviceWorkInit; each is used by one pool or terminated. */
export interface WarmWorkers {
  readonly threads: number
  /** Terminate the workers no pool took (none when a pool took them). */
  release(): Promise<void>
}

/** Below this many manifest bytes per shard there cannot be enough devices for workers (a row is a serial and a newline at least). */
const MIN_MANIFEST_BYTES_PER_DEVICE = 4

/**
 * Start the device workers a tar or dir bake of this manifest will use, before the manifest is
 * read: `workerThreadsFor` decides on the number of devices, guessed here from the file's size
 * (a mistaken guess costs the workers' start-up, and createDevicePool terminates them). They do
 * not keep the process alive until a pool takes them. Undefined when no workers would be used.
 */
export function warmDeviceWorkers(options: { concurrency: number; manifestPath: string; shards: number }): WarmWorkers | undefined {
  let bytes: number
  try {
    bytes = statSync(options.manifestPath).size
  } catch {
    return undefined // the manifest's own reading reports it
  }
  const script = fileURLToPath(import.meta.url)
  const devices = Math.floor(bytes / MIN_MANIFEST_BYTES_PER_DEVICE / Math.max(1, options.shards))
  const threads = workerThreadsFor({ concurrency: options.concurrency, devices }, script)
  if (threads === 0) return undefined
  return new WarmSet(Array.from({ length: threads }, () => startDeviceWorker(script)))
}

class WarmSet implements WarmWorkers {
  constructor(private workers: StartedWorker[]) {}

  get threads(): number {
    return this.workers.length
  }

  /** The workers, for one pool; afterwards release() has nothing left to stop. */
  take(): StartedWorker[] {
    const taken = this.workers
    this.workers = []
    return taken
  }

  async release(): Promise<void> {
    await Promise.all(this.take().map(({ worker }) => worker.terminate()))
  }
}

export function createDevicePool(init: Omit<DeviceWorkInit, 'key' | 'signer'>, options: DevicePoolOptions, warm?: WarmWorkers): DevicePool {
  const key = options.signer.inProcessKey
  const full: DeviceWorkInit = { ...init, ...(key ? { key } : { signer: options.signer.description }) }
  const script = fileURLToPath(import.meta.url)
  const threads = workerThreadsFor(options, script)
  const started = warm instanceof WarmSet && warm.threads === threads ? warm.take() : []
  // Warm workers of a wrong guess are not needed: stopped in the background.
  if (warm) void warm.release()
  const lanes = threads === 0 ? [localLane(full)] : Array.from({ length: threads }, (_, index) => new WorkerLane(started[index] ?? startDeviceWorker(script), full))
  return new LanePool(lanes, options.signer)
}

/** The device workers' own bundle, beside the main bundles (src/pipeline/device-worker-entry.ts). */
const WORKER_BUNDLE = 'device-worker.js'

/** The file worker threads run: the workers' bundle beside `script` when there is one, else `script` itself. */
function workerScript(script: string): string {
  const beside = path.join(path.dirname(script), WORKER_BUNDLE)
  return script.endsWith('.js') && existsSync(beside) ? beside : script
}

/** A device worker thread and what happened to it before a lane took it. */
interface StartedWorker {
  worker: Worker
  early: { error?: Error; exit?: number }
}

function startDeviceWorker(script: string): StartedWorker {
  // A small young generation: a worker's garbage (a few KiB per device) is collected early
  // instead of piling up to V8's default, which is what peak RSS would count.
  const worker = new Worker(workerScript(script), { workerData: { role: DEVICE_WORKER_ROLE }, resourceLimits: { maxYoungGenerationSizeMb: 8 } })
  const started: StartedWorker = { worker, early: {} }
  // Until a lane listens: an 'error' without a listener would be thrown, and an idle warm worker
  // must not keep the process alive.
  worker.on('error', (error) => (started.early.error ??= error))
  worker.on('exit', (code) => (started.early.exit ??= code))
  worker.unref()
  return started
}

class LanePool implements DevicePool {
  private nextId = 0

  constructor(
    private readonly lanes: Lane[],
    private readonly signer: CaSigner
  ) {}

  get threads(): number {
    return this.lanes.length
  }

  async issue(orders: DeviceOrder[]): Promise<IssuedBatch> {
    const id = this.nextId++
    const size = Math.ceil(orders.length / this.lanes.length)
    const slices = this.lanes.map((_, index) => orders.slice(index * size, (index + 1) * size))
    try {
      const results = await Promise.all(this.lanes.map((lane, index) => (slices[index]?.length ? lane.issue(id, slices[index]) : Promise.resolve({ issued: [] }))))
      let issued: string[]
      if (results.every((result) => 'issued' in result)) {
        issued = results.flatMap((result) => (result as { issued: string[] }).issued)
      } else {
        issued = await this.signAndSeal(id, slices, results)
      }
      return { id, issued, slices: slices.map((slice) => slice.length) }
    } catch (error) {
      for (const lane of this.lanes) lane.drop(id)
      throw error
    }
  }

  async write(batch: IssuedBatch): Promise<WriteResult> {
    const results = await Promise.all(this.lanes.map((lane, index) => (batch.slices[index] ? lane.write(batch.id) : Promise.resolve<WriteResult>({ written: [], paths: [] }))))
    const merged: WriteResult = { written: [], paths: [] }
    for (const result of results) {
      merged.written.push(...result.written)
      merged.paths.push(...result.paths)
      merged.error ??= result.error
    }
    return merged
  }

  private closed: Promise<void> | undefined

  /** Stop the workers (again: a no-op). */
  close(): Promise<void> {
    this.closed ??= Promise.all(this.lanes.map((lane) => lane.close())).then(() => undefined)
    return this.closed
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
      this.lanes.map((lane, index) => {
        const count = slices[index]?.length ?? 0
        const mine = signatures.slice(offset, offset + count)
        offset += count
        return count ? lane.seal(id, mine) : Promise.resolve({ issued: [] })
      })
    )
    const refused = sealed.find((result) => result.status === 'rejected')
    if (refused) throw refused.reason
    return sealed.flatMap((result) => (result as PromiseFulfilledResult<{ issued: string[] }>).value.issued)
  }
}

function localLane(init: DeviceWorkInit): Lane {
  const work = new DeviceWork(init)
  return {
    issue: async (id, orders) => work.issue(id, orders),
    seal: async (id, signatures) => work.seal(id, signatures),
    write: async (id) => work.write(id),
    drop: (id) => work.drop(id),
    close: async () => {}
  }
}

type Waiter = { resolve: (result: unknown) => void; reject: (error: Error) => void }

class WorkerLane implements Lane {
  private readonly worker: Worker
  private readonly waiting = new Map<number, Waiter>()
  private nextCall = 0
  private failed: Error | undefined

  constructor({ worker, early }: StartedWorker, init: DeviceWorkInit) {
    this.worker = worker
    this.worker.on('message', (reply: DeviceWorkerReply) => this.settle(reply))
    this.worker.on('error', (error) => this.failAll(error))
    const exited = (code: number): void => {
      if (code !== 0) this.failAll(new Error(`an issuance worker exited with code ${code}`))
      else this.failAll(new Error('an issuance worker stopped before the run was done'))
    }
    this.worker.on('exit', exited)
    if (early.error) this.failAll(early.error)
    else if (early.exit !== undefined) exited(early.exit)
    else {
      this.worker.ref()
      // The first message: what the worker works on (it was started without it).
      this.worker.postMessage({ init })
    }
  }

  issue(id: number, orders: DeviceOrder[]): Promise<IssueResult> {
    return this.call({ method: 'issue', id, orders }) as Promise<IssueResult>
  }

  seal(id: number, signatures: Uint8Array[]): Promise<{ issued: string[] }> {
    return this.call({ method: 'seal', id, signatures }) as Promise<{ issued: string[] }>
  }

  write(id: number): Promise<WriteResult> {
    return this.call({ method: 'write', id }) as Promise<WriteResult>
  }

  drop(id: number): void {
    if (!this.failed) this.worker.postMessage({ call: -1, request: { method: 'drop', id } })
  }

  async close(): Promise<void> {
    await this.worker.terminate()
  }

  private call(request: DeviceWorkerRequest): Promise<unknown> {
    if (this.failed) return Promise.reject(this.failed)
    const call = this.nextCall++
    return new Promise((resolve, reject) => {
      this.waiting.set(call, { resolve, reject })
      this.worker.postMessage({ call, request })
    })
  }

  private settle(reply: DeviceWorkerReply): void {
    const waiter = this.waiting.get(reply.call)
    if (!waiter) return
    this.waiting.delete(reply.call)
    if ('error' in reply) waiter.reject(reviveError(reply.error as SerializedError))
    else waiter.resolve(reply.result)
  }

  private failAll(error: Error): void {
    this.failed = error
    for (const waiter of this.waiting.values()) waiter.reject(error)
    this.waiting.clear()
  }
}
