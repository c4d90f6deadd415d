// The one worker-thread pool of credbake (issuing and writing devices, hashing image outputs,
// verify's checks), with one message protocol:
//   to a worker:   { init } once (a thread may start before the run knows what it will do),
//                  then { call, request }; a call numbered -1 gets no reply;
//   from a worker: { call, result } or { call, error }.
// A worker serves its calls one at a time, in the order they came. Each thread is recognised by the
// role in its workerData (src/workers.ts dispatches the bundle's threads by it). Without threads
// (tests running src/, small runs, concurrency 1) the same handler runs on this thread behind the
// same interface, and its errors are thrown as they are.
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { isMainThread, parentPort, type TransferListItem, Worker, workerData } from 'node:worker_threads'
import { isCredbakeError, messageOf, reviveError, serializeError, type SerializedError } from '../errors.js'

/** What a pool's threads do with each request (on a worker thread, or on this one). */
export type Handler<Request, Result> = (request: Request) => Result | Promise<Result>

/**
 * The running bundle (dist/index.js, dist/cli.js): worker threads re-enter it. Run from src/ it is
 * this .ts file, which a worker thread cannot run, so there are no threads.
 */
export const RUNNING_BUNDLE = fileURLToPath(import.meta.url)

/** Structured clone turns Buffers into Uint8Arrays: make them Buffers again (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Below this many devices starting threads costs more than it saves. */
const MIN_DEVICES_FOR_WORKERS = 200

/**
 * Worker threads for work on `devices` (concurrency 0: one per core), or 0 to work on this thread.
 * Workers re-run `script`: only possible for bundled JavaScript, not src/*.ts.
 */
export function workerThreadsFor(options: { concurrency: number; devices: number }, script: string = RUNNING_BUNDLE): number {
  const threads = options.concurrency === 0 ? os.availableParallelism() : options.concurrency
  return threads <= 1 || !script.endsWith('.js') || options.devices < MIN_DEVICES_FOR_WORKERS ? 0 : threads
}

/** What a pool's threads run. */
export interface ThreadSpec {
  /** Recognised by the thread (its workerData.role). */
  role: string
  /** The file the threads run; default: the running bundle. */
  script?: string
  /** Or a self-contained CommonJS script run with `eval` (no bundle to load). */
  source?: string
  /** More workerData, for a `source` thread that cannot wait for its init. */
  data?: Record<string, unknown>
  /** A small young generation: a worker's garbage is collected early instead of piling up (peak RSS). */
  youngGenerationMb?: number
  /** Names a thread in errors: "an issuance worker". */
  what: string
}

/** The wire shape of an error: a credbake error as serialized, or any other error with its code. */
type WireError = SerializedError & { plain?: true; code?: string }

type ToWorker<Init, Request> = { init: Init } | { call: number; request: Request }
type FromWorker<Result> = { call: number; result: Result } | { call: number; error: WireError }

function toWire(error: unknown): WireError {
  if (isCredbakeError(error)) return serializeError(error)
  const code = (error as NodeJS.ErrnoException | undefined)?.code
  return { kind: 'internal', message: messageOf(error), plain: true, ...(typeof code === 'string' ? { code } : {}) }
}

function fromWire(error: WireError): Error {
  if (!error.plain) return reviveError(error)
  return Object.assign(new Error(error.message), error.code === undefined ? {} : { code: error.code })
}

/**
 * When this thread is a worker of `role`: serve calls with the handler `open` makes from the init
 * message, and return true; else false.
 */
export function serveWorker<Init, Request, Result>(role: string, open: (init: Init) => Handler<Request, Result>): boolean {
  if (isMainThread || !parentPort || (workerData as { role?: string } | undefined)?.role !== role) return false
  const port = parentPort
  let handler: Handler<Request, Result> | undefined
  let initError: unknown
  let queue = Promise.resolve()
  port.on('message', (message: ToWorker<Init, Request>) => {
    if ('init' in message) {
      try {
        handler = open(message.init)
      } catch (error) {
        initError = error // the reply to every call
      }
      return
    }
    const { call, request } = message
    queue = queue.then(async () => {
      let reply: FromWorker<Result>
      try {
        if (initError !== undefined) throw initError
        if (!handler) throw new Error('internal: a worker was called before its init')
        reply = { call, result: await handler(request) }
      } catch (error) {
        reply = { call, error: toWire(error) }
      }
      if (call >= 0) port.postMessage(reply)
    })
  })
  return true
}

/** A thread and what happened to it before a pool took it. */
interface StartedThread {
  worker: Worker
  early: { error?: Error; exit?: number }
}

/**
 * Threads started ahead of their init (they load the bundle while this thread does other work);
 * each is taken by one pool or terminated by `release`. They do not keep the process alive.
 */
export class WarmThreads {
  constructor(
    readonly spec: ThreadSpec,
    private started: StartedThread[]
  ) {}

  get threads(): number {
    return this.started.length
  }

  /** The threads, for one pool; afterwards `release` has nothing left to stop. */
  take(): StartedThread[] {
    const taken = this.started
    this.started = []
    return taken
  }

  async release(): Promise<void> {
    await Promise.all(this.take().map(({ worker }) => worker.terminate()))
  }
}

export function startThreads(spec: ThreadSpec, count: number): WarmThreads {
  return new WarmThreads(
    spec,
    Array.from({ length: count }, () => startThread(spec))
  )
}

function startThread(spec: ThreadSpec): StartedThread {
  const options = {
    workerData: { ...spec.data, role: spec.role },
    ...(spec.youngGenerationMb ? { resourceLimits: { maxYoungGenerationSizeMb: spec.youngGenerationMb } } : {})
  }
  const worker = spec.source !== undefined ? new Worker(spec.source, { ...options, eval: true }) : new Worker(spec.script ?? RUNNING_BUNDLE, options)
  const started: StartedThread = { worker, early: {} }
  // Until a pool listens: an 'error' without a listener would be thrown, and an idle warm thread
  // must not keep the process alive.
  worker.on('error', (error) => (started.early.error ??= error))
  worker.on('exit', (code) => (started.early.exit ??= code))
  worker.unref()
  return started
}

/** One lane of a pool: a worker thread, or the handler on this thread. */
interface Lane<Request, Result> {
  busy: number
  call(request: Request, transfer?: readonly TransferListItem[]): Promise<Result>
  tell(request: Request): void
  close(): Promise<void>
}

export interface PoolOptions<Init, Request, Result> {
  spec: ThreadSpec
  /** Worker threads; 0: the handler runs on this thread. */
  threads: number
  init: Init
  /** The handler each thread makes from `init` (the same one its worker side serves). */
  open: (init: Init) => Handler<Request, Result>
  /** Threads started earlier for this pool; used when they are as many as `threads`, else stopped. */
  warm?: WarmThreads
}

export class WorkerPool<Init, Request, Result> {
  private readonly lanes: Array<Lane<Request, Result>>
  private closed: Promise<void> | undefined

  constructor(options: PoolOptions<Init, Request, Result>) {
    const { spec, threads, init, warm } = options
    const taken = warm && warm.threads === threads && warm.spec.role === spec.role ? warm.take() : []
    // Warm threads of a wrong guess are not needed: stopped in the background.
    if (warm) void warm.release()
    this.lanes =
      threads === 0
        ? [localLane(options.open(init))]
        : Array.from({ length: threads }, (_, index) => new ThreadLane<Init, Request, Result>(taken[index] ?? startThread(spec), init, spec.what))
  }

  /** Lanes: worker threads, or 1 for this thread. */
  get threads(): number {
    return this.lanes.length
  }

  /** Ask lane `lane`. */
  call(lane: number, request: Request, transfer?: readonly TransferListItem[]): Promise<Result> {
    return (this.lanes[lane] as Lane<Request, Result>).call(request, transfer)
  }

  /** Ask the least busy lane. */
  callAny(request: Request, transfer?: readonly TransferListItem[]): Promise<Result> {
    let lane = this.lanes[0] as Lane<Request, Result>
    for (const other of this.lanes) if (other.busy < lane.busy) lane = other
    return lane.call(request, transfer)
  }

  /** Tell lane `lane` something that needs no answer. */
  tell(lane: number, request: Request): void {
    this.lanes[lane]?.tell(request)
  }

  /** Stop the threads (again: a no-op). */
  close(): Promise<void> {
    this.closed ??= Promise.all(this.lanes.map((lane) => lane.close())).then(() => undefined)
    return this.closed
  }
}

function localLane<Request, Result>(handler: Handler<Request, Result>): Lane<Request, Result> {
  const lane: Lane<Request, Result> = {
    busy: 0,
    call: async (request) => {
      lane.busy++
      try {
        return await handler(request)
      } finally {
        lane.busy--
      }
    },
    tell: (request) => {
      void Promise.resolve()
        .then(() => handler(request))
        .catch(() => undefined)
    },
    close: async () => {}
  }
  return lane
}

type Waiter<Result> = { resolve: (result: Result) => void; reject: (error: Error) => void }

class ThreadLane<Init, Request, Result> implements Lane<Request, Result> {
  private readonly worker: Worker
  private readonly waiting = new Map<number, Waiter<Result>>()
  private nextCall = 0
  private failed: Error | undefined

  constructor({ worker, early }: StartedThread, init: Init, what: string) {
    this.worker = worker
    worker.on('message', (reply: FromWorker<Result>) => this.settle(reply))
    worker.on('error', (error) => this.failAll(error))
    const exited = (code: number): void => {
      this.failAll(new Error(code !== 0 ? `${what} exited with code ${code}` : `${what} stopped before the run was done`))
    }
    worker.on('exit', exited)
    if (early.error) this.failAll(early.error)
    else if (early.exit !== undefined) exited(early.exit)
    else {
      worker.ref()
      worker.postMessage({ init } satisfies ToWorker<Init, Request>)
    }
  }

  get busy(): number {
    return this.waiting.size
  }

  call(request: Request, transfer?: readonly TransferListItem[]): Promise<Result> {
    if (this.failed) return Promise.reject(this.failed)
    const call = this.nextCall++
    return new Promise<Result>((resolve, reject) => {
      this.waiting.set(call, { resolve, reject })
      this.worker.postMessage({ call, request } satisfies ToWorker<Init, Request>, transfer)
    })
  }

  tell(request: Request): void {
    if (!this.failed) this.worker.postMessage({ call: -1, request } satisfies ToWorker<Init, Request>)
  }

  async close(): Promise<void> {
    // Stopped on purpose: what is still waiting fails quietly with the 'exit' below.
    await this.worker.terminate()
  }

  private settle(reply: FromWorker<Result>): void {
    const waiter = this.waiting.get(reply.call)
    if (!waiter) return
    this.waiting.delete(reply.call)
    if ('error' in reply) waiter.reject(fromWire(reply.error))
    else waiter.resolve(reply.result)
  }

  private failAll(error: Error): void {
    this.failed ??= error
    for (const waiter of this.waiting.values()) waiter.reject(error)
    this.waiting.clear()
  }
}
