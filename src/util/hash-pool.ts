// SHA-256 of whole image outputs (hundreds of MiB each) on worker threads, so a device's digest is
// computed while the next device is copied and written. The bytes before the selected partition
// are the base image's in every output, so each worker hashes them once and resumes from a copy
// of that state. From src/ (no bundle to start as a worker) the main thread does the same work.
import { createHash, type Hash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads'

export const HASHER_ROLE = 'credbake-hasher'

interface HasherInit {
  role: typeof HASHER_ROLE
  /** File whose first `prefixLength` bytes every hashed file shares. */
  prefixFile?: string
  prefixLength: number
}

type Request = { id: number; file: string }
type Reply = { id: number; sha256: string } | { id: number; error: string; code?: string }

export interface FileHasher {
  /** SHA-256 (hex) of `file`, whose first bytes equal the prefix file's. */
  hash(file: string): Promise<string>
  close(): Promise<void>
}

export function createFileHasher(init: Omit<HasherInit, 'role'>, threads: number): FileHasher {
  const script = fileURLToPath(import.meta.url)
  if (threads < 1 || !script.endsWith('.js')) return new InProcessHasher(init)
  return new WorkerHasher(script, { role: HASHER_ROLE, ...init }, threads)
}

class PrefixHasher {
  private prefix: Promise<Hash> | undefined

  constructor(private readonly init: Omit<HasherInit, 'role'>) {}

  async hash(file: string): Promise<string> {
    this.prefix ??= this.hashPrefix()
    const hash = (await this.prefix).copy()
    await feed(hash, file, this.init.prefixLength, Infinity)
    return hash.digest('hex')
  }

  private async hashPrefix(): Promise<Hash> {
    const hash = createHash('sha256')
    if (this.init.prefixFile && this.init.prefixLength > 0) await feed(hash, this.init.prefixFile, 0, this.init.prefixLength)
    return hash
  }
}

class InProcessHasher implements FileHasher {
  private readonly hasher: PrefixHasher
  constructor(init: Omit<HasherInit, 'role'>) {
    this.hasher = new PrefixHasher(init)
  }
  hash(file: string): Promise<string> {
    return this.hasher.hash(file)
  }
  async close(): Promise<void> {}
}

class WorkerHasher implements FileHasher {
  private readonly workers: Worker[]
  private readonly busy: number[]
  private readonly waiting = new Map<number, { resolve: (sha: string) => void; reject: (error: Error) => void }>()
  private nextId = 0

  constructor(script: string, init: HasherInit, threads: number) {
    this.workers = Array.from({ length: threads }, () => {
      const worker = new Worker(script, { workerData: init })
      worker.on('message', (reply: Reply) => this.settle(reply))
      worker.on('error', (error) => this.failAll(error))
      return worker
    })
    this.busy = this.workers.map(() => 0)
  }

  hash(file: string): Promise<string> {
    // The least busy worker takes it.
    const index = this.busy.indexOf(Math.min(...this.busy))
    const worker = this.workers[index] as Worker
    this.busy[index] = (this.busy[index] ?? 0) + 1
    const id = this.nextId++
    return new Promise<string>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      worker.postMessage({ id, file } satisfies Request)
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
    if ('sha256' in reply) waiter.resolve(reply.sha256)
    else waiter.reject(Object.assign(new Error(reply.error), { code: reply.code }))
  }

  private failAll(error: Error): void {
    for (const waiter of this.waiting.values()) waiter.reject(error)
    this.waiting.clear()
  }
}

/** When this thread is a hashing worker, serve requests and return true; else false. */
export function runIfHasherWorker(): boolean {
  if (isMainThread || (workerData as Partial<HasherInit> | undefined)?.role !== HASHER_ROLE || !parentPort) return false
  const port = parentPort
  const hasher = new PrefixHasher(workerData as HasherInit)
  port.on('message', (request: Request) => {
    hasher.hash(request.file).then(
      (sha256) => port.postMessage({ id: request.id, sha256 } satisfies Reply),
      (error: NodeJS.ErrnoException) => port.postMessage({ id: request.id, error: error.message, code: error.code } satisfies Reply)
    )
  })
  return true
}

async function feed(hash: Hash, file: string, from: number, length: number): Promise<void> {
  const handle = await open(file, 'r')
  try {
    const buffer = Buffer.allocUnsafe(8 << 20)
    for (let offset = from; offset < from + length; ) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, from + length - offset), offset)
      if (bytesRead === 0) break
      hash.update(buffer.subarray(0, bytesRead))
      offset += bytesRead
    }
  } finally {
    await handle.close()
  }
}
