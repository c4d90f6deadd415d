// The action's post: step (action.yml: `post: dist/index.js`, `post-if: always()`). The same bundle
// runs twice in a job, as actions/checkout's does: the main step saves state (core.saveState) that
// the runner hands to the post step as STATE_* variables. A main step that was cancelled or killed
// never reaches its `finally`; the post step then removes what it left: this job's secret temp
// folder (device keys, the CA key) and the output-dir lock, if the lock is still the dead main
// step's. It reads no input and never fails the job: clean-up problems are warnings. (A main step
// stopped by a signal releases both itself: src/util/cancel.ts. This is the net for SIGKILL.)
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import * as core from '@actions/core'
import { messageOf } from './errors.js'
import { readOwner } from './journal/lock.js'
import { reporterText } from './pipeline/reporter.js'
import { identityIsLive } from './util/process.js'

/** Names of the state the main step saves for the post step. */
export const STATE = {
  /** Set by the main step: a second run of the bundle in this job is the post step. */
  isPost: 'isPost',
  /** The main step's pid, as the lock file names its owner. */
  mainPid: 'main-pid',
  secretTemp: 'secret-temp',
  lock: 'lock'
} as const

/** True when this process is the post step (the main step of this job saved `isPost`). */
export function isPostStep(): boolean {
  return core.getState(STATE.isPost) === 'true'
}

export async function post(): Promise<void> {
  const mainPid = Number(core.getState(STATE.mainPid))
  const removed: string[] = []
  const secretTemp = core.getState(STATE.secretTemp)
  if (secretTemp) {
    await attempt(`the secret temp folder ${secretTemp}`, async () => {
      if (await removeSecretTemp(secretTemp)) removed.push(secretTemp)
    })
  }
  const lock = core.getState(STATE.lock)
  if (lock) {
    await attempt(`the lock ${lock}`, async () => {
      if (await releaseDeadLock(lock, mainPid)) removed.push(lock)
    })
  }
  if (removed.length === 0) say('credbake post: nothing left behind by the main step.')
  for (const file of removed) say(`credbake post: removed ${file}`)
}

/**
 * Removes the main step's secret temp folder if it still exists. Only a folder named as
 * SecretTemp names them (credbake-PID-…) is removed, so a mangled state value cannot point the
 * post step at anything else.
 */
async function removeSecretTemp(dir: string): Promise<boolean> {
  if (!path.isAbsolute(dir) || !/^credbake-\d+-/.test(path.basename(dir))) {
    warn(`credbake post: not removing ${dir}: it is not a credbake secret temp folder.`)
    return false
  }
  if (!existsSync(dir)) return false
  await rm(dir, { recursive: true, force: true })
  return true
}

/**
 * Removes the lock file only while it still names the main step (same pid, this host) and that
 * very process no longer runs (src/util/process.ts): a lock another run has taken since is that
 * run's, and is left alone. The lock is read without following a link.
 */
async function releaseDeadLock(file: string, mainPid: number): Promise<boolean> {
  const found = await readOwner(file)
  if (found.kind === 'gone') return false
  if (found.kind !== 'owner') {
    say(`credbake post: leaving ${file}: it does not hold a lock owner (the next run treats it as stale).`)
    return false
  }
  const owner = found.owner
  if (owner.pid !== mainPid || owner.host !== os.hostname()) {
    say(`credbake post: leaving ${file}: it is held by another run (pid ${String(owner.pid)}).`)
    return false
  }
  if (identityIsLive(owner).live) {
    say(`credbake post: leaving ${file}: its owner, pid ${mainPid}, is still running.`)
    return false
  }
  await rm(file, { force: true })
  return true
}

async function attempt(what: string, step: () => Promise<void>): Promise<void> {
  try {
    await step()
  } catch (error) {
    warn(`credbake post: could not clean up ${what}: ${messageOf(error)}`)
  }
}

// The paths come from saved state, and a folder name (output-dir's) is the user's text: no line of
// them may start a workflow command or break in two (src/util/log-text.ts), as in the main step.
function say(message: string): void {
  core.info(reporterText(message))
}

function warn(message: string): void {
  core.warning(reporterText(message))
}
