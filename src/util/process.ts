// Which process owns something (a lock, a secret temp folder), told so that a pid the kernel has
// handed to another process since, or a zombie, is never taken for the owner. On Linux a process
// is named by its pid, its start time (field 22 of /proc/PID/stat, clock ticks after boot) and the
// boot (/proc/sys/kernel/random/boot_id); elsewhere by its pid alone.
import { readFileSync } from 'node:fs'
import os from 'node:os'

/** Whether a process with this pid exists on this machine (EPERM: it exists, owned by another user). */
export function processIsAlive(pid: number): boolean {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A process as an owner records it. */
export interface ProcessIdentity {
  pid: number
  host: string
  /** Field 22 of /proc/PID/stat (Linux): when the process started, in clock ticks after boot. */
  processStart?: number
  /** /proc/sys/kernel/random/boot_id (Linux) when the identity was taken. */
  bootId?: string
}

/** State (field 3) and start time (field 22) of /proc/PID/stat; undefined when there is no such process (or no /proc). */
export function processStat(pid: number): { state: string; start: number } | undefined {
  if (!Number.isSafeInteger(pid) || pid <= 0) return undefined
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1')
  } catch {
    return undefined
  }
  // Field 2 is the command name in parentheses, which may itself hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  const start = Number(fields[19])
  return fields[0] && Number.isSafeInteger(start) ? { state: fields[0], start } : undefined
}

let bootIdCache: string | null | undefined

/** This boot's id, or undefined where the kernel does not tell it. */
export function currentBootId(): string | undefined {
  if (bootIdCache === undefined) {
    try {
      bootIdCache = readFileSync('/proc/sys/kernel/random/boot_id', 'latin1').trim() || null
    } catch {
      bootIdCache = null
    }
  }
  return bootIdCache ?? undefined
}

/** This process, as a lock or a secret folder records its owner. */
export function ownIdentity(): ProcessIdentity {
  const stat = processStat(process.pid)
  const bootId = currentBootId()
  return { pid: process.pid, host: os.hostname(), ...(stat ? { processStart: stat.start } : {}), ...(bootId ? { bootId } : {}) }
}

/**
 * Whether the process an identity names still runs, and if not, why (for messages). Only that
 * very process counts: same boot, the pid in use, the same start time, and not a zombie (exited,
 * waiting for its parent to reap it). An identity from another host cannot be checked and counts
 * as running. Where there is no /proc, or the identity predates start times, the pid alone decides.
 */
export function identityIsLive(owner: ProcessIdentity): { live: true } | { live: false; why: string } {
  if (owner.host !== os.hostname()) return { live: true }
  const bootId = currentBootId()
  if (owner.bootId !== undefined && bootId !== undefined && owner.bootId !== bootId) {
    return { live: false, why: 'the machine has been restarted since' }
  }
  const stat = processStat(owner.pid)
  if (stat === undefined) {
    if (processStat(process.pid) !== undefined) return { live: false, why: `no process has pid ${owner.pid} any more` }
    // No /proc here: the pid alone.
    return processIsAlive(owner.pid) ? { live: true } : { live: false, why: `no process has pid ${owner.pid} any more` }
  }
  if (stat.state === 'Z' || stat.state === 'X') return { live: false, why: `pid ${owner.pid} has exited (a zombie its parent has not reaped)` }
  if (owner.processStart !== undefined && stat.start !== owner.processStart) {
    return { live: false, why: `pid ${owner.pid} now belongs to another process (started at tick ${stat.start}, not ${owner.processStart})` }
  }
  return { live: true }
}
