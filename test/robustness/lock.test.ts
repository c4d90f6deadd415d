// Issue 4, item 3: one writer per output-dir. A second bake into a busy output-dir fails at once
// (exit 6, a message naming output-dir and the holder) while the first finishes; a lock left by a
// dead process is taken over. Issue 18, item 3: the lock names its owner by pid, host, start time
// (field 22 of /proc/PID/stat) and boot id, and is live only while that very process runs: a lock
// naming a pid that now belongs to another process, a zombie, or a previous boot is taken over
// with a warning naming the old owner.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { deadPid, readJournalFile, runCliAsync, startCli, type ChildResult } from '../helpers/faults.js'
import { checkOutputDir } from './invariants.js'

const LOCK_EXIT = 6 // EXIT_CODES.lock in src/errors.ts

let ca: CaFixture
let work: string
let manifest: string
let serials: string[]

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Lock Test Root' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-lock-'))
  // Long enough (a few seconds) for a second run to start while the first holds the lock, even on a
  // loaded machine (400 devices were sometimes done before the second run reached the lock).
  serials = Array.from({ length: 800 }, (_, i) => `LK-${String(i + 1).padStart(4, '0')}`)
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, `serial\n${serials.join('\n')}\n`)
})
afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

const args = (out: string): string[] => ['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out, '--format', 'tar']

async function waitFor(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

function lockOwnerPid(out: string): number | undefined {
  try {
    return JSON.parse(readFileSync(path.join(out, 'credbake.lock'), 'utf8')).pid
  } catch {
    return undefined
  }
}

describe('one writer per output-dir', () => {
  it('a second bake fails at once with exit 6 naming output-dir and the holder; the first completes', async () => {
    const out = path.join(work, 'out-concurrent')
    const first = startCli(args(out))
    let firstDone = false
    void first.done.then(() => (firstDone = true))
    await waitFor(() => lockOwnerPid(out) === first.pid || firstDone, 'the first run to take the lock')
    expect(firstDone, 'the first run ended before a second could start: make the job longer').toBe(false)

    const second = await runCliAsync(args(out))
    const secondEndedFirst = !firstDone
    const firstResult = await first.done

    expect(second.status, second.stderr).toBe(LOCK_EXIT)
    expect(second.stderr).toContain(out)
    expect(second.stderr).toMatch(/output-dir/)
    expect(second.stderr).toContain(`pid ${first.pid}`)
    expect(second.stderr).not.toMatch(/\n\s+at /)
    expect(secondEndedFirst, 'the second run waited for the first instead of failing at once').toBe(true)

    expect(firstResult.status, firstResult.stderr).toBe(0)
    const runs = readJournalFile(out).records.filter((r) => r.type === 'run')
    expect(runs, 'only the first run wrote to the journal').toHaveLength(1)
    expect(runs[0]?.run.endsWith(`-${first.pid}`)).toBe(true)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials }).problems).toEqual([])
  })

  it('of four bakes started at the same moment exactly one runs, the others fail with exit 6', async () => {
    const out = path.join(work, 'out-four')
    const results: ChildResult[] = await Promise.all([1, 2, 3, 4].map(() => runCliAsync(args(out))))
    const statuses = results.map((r) => r.status).sort()
    expect(statuses, results.map((r) => r.stderr.split('\n').slice(-2).join(' ')).join('\n')).toEqual([0, LOCK_EXIT, LOCK_EXIT, LOCK_EXIT])
    expect(readJournalFile(out).records.filter((r) => r.type === 'run')).toHaveLength(1)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials }).problems).toEqual([])
  })

  it('a stale lock of a dead process on this host is taken over and the run succeeds', async () => {
    const out = path.join(work, 'out-stale')
    const small = path.join(work, 'small.csv')
    writeFileSync(small, 'serial\nST-1\nST-2\n')
    await runCliAsync(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out]).then((r) =>
      expect(r.status, r.stderr).toBe(0)
    )
    const pid = deadPid()
    writeFileSync(path.join(out, 'credbake.lock'), `${JSON.stringify({ pid, host: os.hostname(), startedAt: '2026-01-01T00:00:00.000Z' })}\n`)

    const result = await runCliAsync(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out])
    expect(result.status, result.stderr).toBe(0)
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: ['ST-1', 'ST-2'] }).problems).toEqual([])
  })

  it('a torn lock (its writer died before writing its pid) is taken over', async () => {
    const out = path.join(work, 'out-torn')
    const small = path.join(work, 'small-torn.csv')
    writeFileSync(small, 'serial\nTL-1\n')
    mkdirSync(out, { recursive: true })
    writeFileSync(path.join(out, 'credbake.lock'), '{"pid": 12')
    const result = await runCliAsync(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out])
    expect(result.status, result.stderr).toBe(0)
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: ['TL-1'] }).problems).toEqual([])
  })

  it('a lock held by a live process is respected even when it is not a bake of ours (that very process alive: refused, lock kept)', async () => {
    const out = path.join(work, 'out-live')
    const small = path.join(work, 'small-live.csv')
    writeFileSync(small, 'serial\nLV-1\n')
    mkdirSync(out, { recursive: true })
    const lock = `${JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString(), processStart: procStat(process.pid).start, bootId: bootId() })}\n`
    writeFileSync(path.join(out, 'credbake.lock'), lock)
    const result = await runCliAsync(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out])
    expect(result.status, result.stderr).toBe(LOCK_EXIT)
    expect(result.stderr).toContain(`pid ${process.pid}`)
    expect(readFileSync(path.join(out, 'credbake.lock'), 'utf8')).toBe(lock)
    expect(readJournalFile(out).records).toEqual([])
  })

  it('a lock from another host cannot be checked and is respected', async () => {
    const out = path.join(work, 'out-host')
    const small = path.join(work, 'small-host.csv')
    writeFileSync(small, 'serial\nOH-1\n')
    mkdirSync(out, { recursive: true })
    writeFileSync(path.join(out, 'credbake.lock'), `${JSON.stringify({ pid: deadPid(), host: `not-${os.hostname()}`, startedAt: new Date().toISOString() })}\n`)
    const result = await runCliAsync(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out])
    expect(result.status, result.stderr).toBe(LOCK_EXIT)
    expect(result.stderr).toContain(`not-${os.hostname()}`)
    expect(result.stderr).toContain('credbake.lock')
  })
})

// ---- the lock knows its owner (issue 18, item 3) ---------------------------------------------------

/** State and start time (fields 3 and 22) of /proc/PID/stat, read here independently of credbake. */
function procStat(pid: number): { state: string; start: number } {
  const text = readFileSync(`/proc/${pid}/stat`, 'latin1')
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { state: fields[0]!, start: Number(fields[19]) }
}

function bootId(): string {
  return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim()
}

const children: ChildProcess[] = []
afterAll(() => {
  for (const child of children) child.kill('SIGKILL')
})

/** A child process (not credbake) and its pid; with `zombie`, also the pid of its child, which exited and is never reaped. */
async function unrelatedProcess(zombie = false): Promise<{ pid: number; zombiePid?: number }> {
  // `sleep 0 &` then exec: the sleep that replaces the shell never waits for its child, which stays a zombie.
  const child = spawn('sh', ['-c', zombie ? 'sleep 0 & echo $!; exec sleep 60' : 'echo; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] })
  children.push(child)
  const line = await new Promise<string>((resolve) => child.stdout!.once('data', (chunk: Buffer) => resolve(chunk.toString().trim())))
  if (!zombie) return { pid: child.pid! }
  const zombiePid = Number(line)
  await waitFor(() => procStat(zombiePid).state === 'Z', `pid ${zombiePid} to become a zombie`)
  return { pid: child.pid!, zombiePid }
}

async function bakeOver(name: string, owner: Record<string, unknown>): Promise<{ result: ChildResult; out: string; lock: string }> {
  const out = path.join(work, `out-${name}`)
  const small = path.join(work, `small-${name}.csv`)
  writeFileSync(small, `serial\n${name.toUpperCase()}-1\n`)
  mkdirSync(out, { recursive: true })
  const lock = `${JSON.stringify({ host: os.hostname(), startedAt: '2026-01-01T00:00:00.000Z', ...owner })}\n`
  writeFileSync(path.join(out, 'credbake.lock'), lock)
  const result = await runCliAsync(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out])
  return { result, out, lock }
}

describe('a lock that knows its owner', () => {
  it('names a live, unrelated process that got the pid since (another start time): stale, taken over with a warning naming the old owner', async () => {
    const { pid } = await unrelatedProcess()
    const start = procStat(pid).start
    const { result, out } = await bakeOver('reused', { pid, processStart: start - 1, bootId: bootId() })
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toMatch(
      new RegExp(
        `warning: Took over the stale lock .*credbake\\.lock of credbake pid ${pid} on ${os.hostname()}, since 2026-01-01T00:00:00\\.000Z: pid ${pid} now belongs to another process`
      )
    )
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)
    expect(procStat(pid).state, 'the unrelated process is left alone').not.toBe('Z')
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: ['REUSED-1'] }).problems).toEqual([])
  })

  it('names the same live process (same pid, same start time): refused, exit 6, lock kept', async () => {
    const { pid } = await unrelatedProcess()
    const { result, out, lock } = await bakeOver('same', { pid, processStart: procStat(pid).start, bootId: bootId() })
    expect(result.status, result.stderr).toBe(LOCK_EXIT)
    expect(result.stderr).toContain(`pid ${pid} on ${os.hostname()}`)
    expect(readFileSync(path.join(out, 'credbake.lock'), 'utf8')).toBe(lock)
  })

  it('names a zombie (exited, not reaped by its parent): stale, taken over', async () => {
    const { zombiePid } = await unrelatedProcess(true)
    expect(procStat(zombiePid!).state).toBe('Z')
    // kill(pid, 0) succeeds on a zombie: what the lock used to go by.
    expect(() => process.kill(zombiePid!, 0)).not.toThrow()
    const { result, out } = await bakeOver('zombie', { pid: zombiePid, processStart: procStat(zombiePid!).start, bootId: bootId() })
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toMatch(new RegExp(`Took over the stale lock .* pid ${zombiePid} .*: pid ${zombiePid} has exited \\(a zombie`))
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)
  })

  it('names a process of an earlier boot: stale, even when a process of that pid runs now', async () => {
    const { result, out } = await bakeOver('reboot', { pid: process.pid, processStart: procStat(process.pid).start, bootId: '00000000-0000-4000-8000-000000000000' })
    expect(result.status, result.stderr).toBe(0)
    expect(result.stderr).toMatch(/Took over the stale lock .*: the machine has been restarted since/)
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)
  })

  it('records pid, host, start time and boot id while the run holds it', async () => {
    const out = path.join(work, 'out-recorded')
    const child = startCli(args(out))
    let done = false
    void child.done.then(() => (done = true))
    await waitFor(() => lockOwnerPid(out) === child.pid || done, 'the run to take the lock')
    expect(done, 'the run ended before its lock could be read: make the job longer').toBe(false)
    const owner = JSON.parse(readFileSync(path.join(out, 'credbake.lock'), 'utf8'))
    expect(owner).toMatchObject({ pid: child.pid, host: os.hostname(), processStart: procStat(child.pid).start, bootId: bootId() })
    expect((await child.done).status).toBe(0)
  })

  it('a planted symbolic link at the lock is refused naming it (exit 5), and what it points to is left as it was', async () => {
    const out = path.join(work, 'out-lock-link')
    const small = path.join(work, 'small-link.csv')
    writeFileSync(small, 'serial\nLL-1\n')
    mkdirSync(out, { recursive: true })
    const target = path.join(work, 'lock-target.txt')
    writeFileSync(target, 'not a lock')
    symlinkSync(target, path.join(out, 'credbake.lock'))
    const result = await runCliAsync(['bake', '--manifest', small, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', out])
    expect(result.status, result.stderr).toBe(5)
    expect(result.stderr).toContain(`${path.join(out, 'credbake.lock')} is a symbolic link (to ${target})`)
    expect(result.stderr).not.toMatch(/\n\s+at /)
    expect(readFileSync(target, 'utf8')).toBe('not a lock')
    expect(readJournalFile(out).records).toEqual([])
  })
})
