// An external signer program: `fleet-ca-key: exec:PATH`. Started once per run (no shell, no
// arguments), it speaks JSON lines: one JSON object per line each way, requests matched to
// answers by `id`, many in flight (answers may come in any order). The protocol, as documented in
// the README ("The exec: signer protocol"):
//   → {"id":1,"op":"public-key"}                                ← {"id":1,"publicKey":"-----BEGIN PUBLIC KEY-----\n…"}
//   → {"id":2,"op":"sign","hash":"sha256","digest":"<base64>"}  ← {"id":2,"signature":"<base64 DER>"}
//   any request may be answered {"id":N,"error":"text"}.
// fleet-ca-key-passphrase, when set, reaches the program as the environment variable
// CREDBAKE_SIGNER_PASSPHRASE (never on its command line). Its stderr becomes warnings in the log
// (bounded: StderrTail).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { FleetCaError, messageOf } from '../errors.js'
import { keyFacts } from '../x509/algorithms.js'
import type { CaSigner, SignerFactory, SignerOpenContext } from './types.js'
import type { HashName } from '../x509/algorithms.js'
import { keyUriScheme } from '../settings/types.js'

export const EXEC_PASSPHRASE_ENV = 'CREDBAKE_SIGNER_PASSPHRASE'
/** Requests in flight at once. */
const CONCURRENCY = 16
/** An answer that takes longer than this fails the run. */
const ANSWER_TIMEOUT_MS = 60_000
/** How long a closing program gets to exit after its input ends, before SIGTERM. */
const CLOSE_TIMEOUT_MS = 5_000
/** How long its output pipes are waited for after it exited (descendants may hold them). */
const PIPE_GRACE_MS = 1_000
const MAX_LINE = 1 << 20
/**
 * A signer program's stderr is passed on as warnings, line by line, with bounded memory whatever
 * it writes: an unfinished line is kept to its last STDERR_TAIL characters (8 KiB of ASCII; also
 * when no newline ever comes), each warning shows at most STDERR_LINE characters of a line, and
 * after STDERR_LINES warnings the rest is only counted, then summed up with its last line at the end.
 */
export const STDERR_TAIL = 8 * 1024
const STDERR_LINE = 500
export const STDERR_LINES = 100

/** Lines of a stream of text, as warnings, holding at most STDERR_TAIL characters (see above). */
export class StderrTail {
  private pending = ''
  private pendingCut = false
  private shown = 0
  private unshownLines = 0
  private unshownChars = 0
  private lastUnshown = ''

  constructor(private readonly warn: (line: string) => void) {}

  push(chunk: string): void {
    let start = 0
    let newline: number
    while ((newline = chunk.indexOf('\n', start)) >= 0) {
      const piece = chunk.slice(start, newline)
      const line = this.pending + piece
      this.line(line, this.pendingCut)
      this.pending = ''
      this.pendingCut = false
      start = newline + 1
    }
    if (start < chunk.length) {
      this.pending += start === 0 ? chunk : chunk.slice(start)
      if (this.pending.length > STDERR_TAIL) {
        this.unshownChars += this.pending.length - STDERR_TAIL
        this.pending = this.pending.slice(-STDERR_TAIL)
        this.pendingCut = true
      }
    }
  }

  end(): void {
    if (this.pending.trim()) this.line(this.pending, this.pendingCut)
    this.pending = ''
    if (this.unshownLines > 0) {
      this.warn(`(${this.unshownLines} more lines of stderr not shown; the last: ${this.lastUnshown})`)
    } else if (this.unshownChars > 0) {
      this.warn(`(${this.unshownChars} characters of an unfinished stderr line not shown)`)
    }
  }

  private line(text: string, cut: boolean): void {
    const line = text.trimEnd()
    if (!line) return
    const shown = cut ? `…${line.slice(-STDERR_LINE)}` : line.slice(0, STDERR_LINE)
    if (this.shown < STDERR_LINES) {
      this.shown += 1
      this.warn(shown)
      return
    }
    this.unshownLines += 1
    this.lastUnshown = shown
  }
}

interface Pending {
  resolve: (answer: Record<string, unknown>) => void
  reject: (error: Error) => void
  timer: NodeJS.Timeout
}

/** A child speaking the JSON-lines protocol; also used for credbake's own PKCS#11 signer process. */
export class SignerProcess {
  private readonly child: ChildProcessWithoutNullStreams
  private readonly pending = new Map<number, Pending>()
  private nextId = 1
  private buffer = ''
  private failure: FleetCaError | undefined
  private exited = false
  /** The program exited (or could not start). */
  private readonly exitPromise: Promise<void>
  /** The program exited and its output pipes closed. */
  private readonly closePromise: Promise<void>
  private readonly name: string

  constructor(
    private readonly program: string,
    passphrase: string | undefined,
    private readonly warn: (message: string) => void,
    options: { args?: string[]; env?: Record<string, string>; stderrPrefix?: string; name?: string } = {}
  ) {
    this.name = options.name ?? `the signer program ${program}`
    const env: Record<string, string | undefined> = { ...process.env, ...options.env }
    delete env[EXEC_PASSPHRASE_ENV]
    if (passphrase) env[EXEC_PASSPHRASE_ENV] = passphrase
    const prefix = options.stderrPrefix ?? 'signer program: '
    this.child = spawn(program, options.args ?? [], { stdio: ['pipe', 'pipe', 'pipe'], env, shell: false })
    this.exitPromise = new Promise((resolve) => {
      this.child.once('exit', () => resolve())
      this.child.once('error', () => resolve())
    })
    this.closePromise = new Promise((resolve) => this.child.once('close', () => resolve()))
    this.child.on('error', (error: NodeJS.ErrnoException) => {
      const reason = error.code === 'ENOENT' ? 'no such program' : error.code === 'EACCES' ? 'not executable (chmod +x, and a #! line for scripts)' : messageOf(error)
      this.fail(`${this.name} cannot be started: ${reason}`)
      this.exited = true
    })
    this.child.on('exit', (code, signal) => {
      this.exited = true
      this.fail(`${this.name} ${signal ? `was killed by ${signal}` : `exited with code ${code}`}`)
    })
    this.child.stdin.on('error', () => {
      // EPIPE after a crash: the exit handler reports it
    })
    this.child.stdout.setEncoding('utf8')
    this.child.stdout.on('data', (chunk: string) => this.receive(chunk))
    const stderr = new StderrTail((line) => this.warn(`${prefix}${line}`))
    this.child.stderr.setEncoding('utf8')
    this.child.stderr.on('data', (chunk: string) => stderr.push(chunk))
    this.child.stderr.on('end', () => stderr.end())
    this.idle()
  }

  /** Nothing waits: let the process exit even if the program lingers. */
  private idle(): void {
    this.child.unref()
    ;(this.child.stdout as unknown as { unref?: () => void }).unref?.()
    ;(this.child.stderr as unknown as { unref?: () => void }).unref?.()
    ;(this.child.stdin as unknown as { unref?: () => void }).unref?.()
  }

  private busy(): void {
    this.child.ref()
    ;(this.child.stdout as unknown as { ref?: () => void }).ref?.()
  }

  private fail(message: string): void {
    if (this.failure) return
    this.failure = new FleetCaError(`fleet-ca-key: ${message}${this.pending.size ? ` (${this.pending.size} requests unanswered)` : ''}`, { input: 'fleet-ca-key' })
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer)
      waiter.reject(this.failure)
    }
    this.pending.clear()
    this.idle()
  }

  private garbage(reason: string): void {
    this.fail(`${this.name} answered something that is not credbake's JSON-lines protocol: ${reason}`)
    this.child.kill('SIGKILL')
  }

  private receive(chunk: string): void {
    this.buffer += chunk
    if (this.buffer.length > MAX_LINE && !this.buffer.includes('\n')) return this.garbage('a line longer than 1 MiB')
    let newline: number
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim()
      this.buffer = this.buffer.slice(newline + 1)
      if (line === '') continue
      let answer: unknown
      try {
        answer = JSON.parse(line)
      } catch {
        return this.garbage('a line that is not JSON')
      }
      if (typeof answer !== 'object' || answer === null || Array.isArray(answer) || typeof (answer as { id?: unknown }).id !== 'number') {
        return this.garbage('a JSON line without a numeric "id"')
      }
      const id = (answer as { id: number }).id
      const waiter = this.pending.get(id)
      if (!waiter) return this.garbage(`an answer to id ${id}, which no request has (or was answered already)`)
      this.pending.delete(id)
      clearTimeout(waiter.timer)
      if (this.pending.size === 0) this.idle()
      waiter.resolve(answer as Record<string, unknown>)
    }
  }

  request(body: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (this.failure) return Promise.reject(this.failure)
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(`${this.name} did not answer request ${id} within ${ANSWER_TIMEOUT_MS / 1000} s`)
        this.child.kill('SIGKILL')
      }, ANSWER_TIMEOUT_MS)
      timer.unref()
      this.pending.set(id, { resolve, reject, timer })
      this.busy()
      this.child.stdin.write(`${JSON.stringify({ id, ...body })}\n`)
    })
  }

  async close(): Promise<void> {
    if (this.exited) return
    this.child.stdin.end()
    // Until the program and its pipes are done, something must hold the event loop: the exit
    // handler unrefs the child (fail -> idle), and with nothing left Node would end the process
    // (exit code 0) in the middle of this wait, before the run had finished.
    const hold = setInterval(() => {}, 60_000)
    const stop = setTimeout(() => this.child.kill('SIGTERM'), CLOSE_TIMEOUT_MS)
    try {
      await this.exitPromise
      // The last stderr lines arrive after the exit; a program's descendants may keep the pipes
      // open for much longer, and are not waited for.
      const late = setTimeout(() => {
        this.child.stdout.destroy()
        this.child.stderr.destroy()
      }, PIPE_GRACE_MS)
      await this.closePromise
      clearTimeout(late)
    } finally {
      clearInterval(hold)
      clearTimeout(stop)
    }
  }
}

function base64Field(answer: Record<string, unknown>, field: string, what: string, program: string): Buffer {
  const value = answer[field]
  if (typeof value !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length === 0) {
    throw new FleetCaError(`fleet-ca-key: the signer program ${program} answered a ${what} without a base64 "${field}"`, { input: 'fleet-ca-key' })
  }
  return Buffer.from(value, 'base64')
}

function answerError(answer: Record<string, unknown>, what: string, program: string): void {
  if (answer.error === undefined) return
  const text = typeof answer.error === 'string' ? answer.error.slice(0, 500) : JSON.stringify(answer.error).slice(0, 500)
  throw new FleetCaError(`fleet-ca-key: the signer program ${program} refused the ${what}: ${text}`, { input: 'fleet-ca-key' })
}

export async function openExecSigner(reference: string, context: SignerOpenContext): Promise<CaSigner> {
  const program = reference.slice('exec:'.length)
  if (!program) throw new FleetCaError('fleet-ca-key: exec: needs the path of a signer program', { input: 'fleet-ca-key' })
  const child = new SignerProcess(program, context.passphrase, context.warn ?? (() => {}))
  try {
    const answer = await child.request({ op: 'public-key' })
    answerError(answer, 'public-key request', program)
    let publicKey: KeyObject
    try {
      if (typeof answer.publicKey !== 'string') throw new Error('no "publicKey" string')
      publicKey = createPublicKey({ key: answer.publicKey, format: 'pem' })
      if (publicKey.type !== 'public') throw new Error('not a public key')
    } catch (error) {
      throw new FleetCaError(`fleet-ca-key: the signer program ${program} answered the public-key request without a PEM public key (${messageOf(error)})`, {
        input: 'fleet-ca-key'
      })
    }
    const facts = keyFacts(publicKey)
    if ('unsupported' in facts) throw new FleetCaError(`fleet-ca-key: the signer program's key: ${facts.unsupported}`, { input: 'fleet-ca-key' })
    const hash: HashName | null = facts.hash
    return {
      description: `the signer program ${program}`,
      publicKey,
      hash,
      concurrency: CONCURRENCY,
      sign: async (tbs) => {
        const request = hash ? { op: 'sign', hash, digest: createHash(hash).update(tbs).digest('base64') } : { op: 'sign', hash: null, message: tbs.toString('base64') }
        const reply = await child.request(request)
        answerError(reply, 'sign request', program)
        return base64Field(reply, 'signature', 'sign request', program)
      },
      close: () => child.close()
    }
  } catch (error) {
    await child.close().catch(() => undefined)
    throw error
  }
}

export const execSignerFactory: SignerFactory = {
  name: 'exec',
  accepts: (reference) => keyUriScheme(reference) === 'exec',
  open: openExecSigner
}
