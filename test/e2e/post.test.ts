// The action's post: step (action.yml: post: dist/index.js, post-if: always()), run as a runner
// runs it: the main step gets a GITHUB_STATE file and saves state into it (core.saveState); the
// runner reads the file (`name<<DELIMITER\nvalue\nDELIMITER` blocks, like GITHUB_OUTPUT) and starts
// the same bundle again as the post step with each value as STATE_<name>. A main step killed with
// SIGKILL (a cancelled job whose process did not stop in time) leaves its secret temp folder and
// the output-dir lock; the post step removes both, and only those. Node 20 and Node 24.
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, makeIntermediateCa, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { buildBareExt4, cleanupScratch, MiB, scratchDir } from '../helpers/images.js'
import { deadPid, makeFakeDebugfs, startAction, type ChildResult } from '../helpers/faults.js'
import { NODES, parseOutputs } from '../helpers/run.js'

let root: CaFixture
let fleet: CaFixture
let work: string
let manifest: string

beforeAll(() => {
  root = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Post Step Root' })
  fleet = makeIntermediateCa(root, { keyType: 'ec-p256', subject: '/CN=Post Step Fleet CA' })
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-post-'))
  manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, 'serial,region\nPS-01,eu\nPS-02,us\nPS-03,eu\n')
})
afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
  rmSync(work, { recursive: true, force: true })
})

/** One job on a runner: its workspace, RUNNER_TEMP, and per step the command files. */
interface Job {
  workspace: string
  runnerTemp: string
  /** Starts a step (main or post) of this job: fresh GITHUB_OUTPUT, summary and GITHUB_STATE. */
  step(
    name: string,
    inputs: Record<string, string>,
    opts: { node: string; env?: Record<string, string> }
  ): { pid: number; stateFile: string; done: Promise<ChildResult>; kill(): void }
}

function job(name: string): Job {
  const dir = path.join(work, name)
  const workspace = path.join(dir, 'workspace')
  const runnerTemp = path.join(dir, 'runner_temp')
  mkdirSync(workspace, { recursive: true })
  mkdirSync(runnerTemp, { recursive: true })
  return {
    workspace,
    runnerTemp,
    step(step, inputs, opts) {
      const files = {
        outputFile: path.join(dir, `${step}-output`),
        summaryFile: path.join(dir, `${step}-summary`),
        runnerTemp,
        workspace
      }
      const stateFile = path.join(dir, `${step}-state`)
      for (const file of [files.outputFile, files.summaryFile, stateFile]) writeFileSync(file, '')
      const child = startAction(inputs, files, { node: opts.node, env: { GITHUB_STATE: stateFile, ...opts.env } })
      return { pid: child.pid, stateFile, done: child.done, kill: () => child.kill('SIGKILL') }
    }
  }
}

/** What the runner does between the steps: GITHUB_STATE of the main step → STATE_* of the post step. */
function stateEnv(stateFile: string): { state: Record<string, string>; env: Record<string, string> } {
  const state = parseOutputs(readFileSync(stateFile, 'utf8'))
  return { state, env: Object.fromEntries(Object.entries(state).map(([name, value]) => [`STATE_${name}`, value])) }
}

function bakeInputs(out: string, image?: string): Record<string, string> {
  return {
    manifest,
    'fleet-ca-cert': fleet.chainPath,
    'fleet-ca-key': fleet.keyPath,
    'output-dir': out,
    ...(image ? { image, format: 'image' } : { format: 'tar' })
  }
}

function credbakeEntries(dir: string): string[] {
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.startsWith('credbake-')) : []
}

describe.each(NODES)('the post step under %s', (nodeName, node) => {
  it('after a main step killed mid-bake, removes its secret temp folder and its lock; the next bake then succeeds', async () => {
    const runner = job(`killed-${nodeName}`)
    const image = await buildBareExt4(await scratchDir('credbake-post-img-'), { size: 8 * MiB, label: 'rootfs' })
    const out = path.join(runner.workspace, 'out')
    // A debugfs that sleeps before writing the first device's bundle: the main step is killed
    // while it holds the lock and its secret temp folder holds that device's key.
    const fake = makeFakeDebugfs(path.join(work, `fake-${nodeName}`), { mode: 'sleep', sleepMs: 60_000 })
    const main = runner.step('main', bakeInputs(out, image.path), { node, env: fake.env })
    const deadline = Date.now() + 90_000
    while (fake.writeRuns() === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
    expect(fake.writeRuns(), 'debugfs was never asked to write').toBeGreaterThan(0)
    main.kill()
    const killed = await main.done
    for (const pid of fake.pids()) {
      try {
        process.kill(pid, 'SIGKILL') // the fake debugfs, orphaned by the kill
      } catch {
        // already gone
      }
    }
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL')

    const { state, env } = stateEnv(main.stateFile)
    expect(state).toMatchObject({ isPost: 'true', 'main-pid': String(main.pid), lock: path.join(out, 'credbake.lock') })
    const secretTemp = state['secret-temp'] as string
    expect(path.dirname(secretTemp), 'the secret temp folder is in RUNNER_TEMP').toBe(runner.runnerTemp)
    // What the killed main step left: its secret folder and a lock naming it.
    expect(statSync(secretTemp).isDirectory()).toBe(true)
    expect(JSON.parse(readFileSync(state.lock as string, 'utf8'))).toMatchObject({ pid: main.pid, host: os.hostname() })

    // The post step gets no inputs (it needs none), only the state.
    const post = await runner.step('post', {}, { node, env }).done
    expect(post.status, post.stdout + post.stderr).toBe(0)
    expect(post.stdout).toContain(`removed ${secretTemp}`)
    expect(post.stdout).toContain(`removed ${state.lock}`)
    expect(post.stdout).not.toMatch(/::(error|warning)/)
    expect(existsSync(secretTemp)).toBe(false)
    expect(existsSync(state.lock as string)).toBe(false)
    expect(credbakeEntries(runner.runnerTemp)).toEqual([])

    // A later bake into that output-dir (the real debugfs now) completes.
    const again = await runner.step('again', bakeInputs(out, image.path), { node }).done
    expect(again.status, again.stdout + again.stderr).toBe(0)
    expect(again.stdout + again.stderr).not.toMatch(/Another credbake run/)
    expect(readdirSync(path.join(out, 'images')).sort()).toEqual(['PS-01.img', 'PS-02.img', 'PS-03.img'])
    expect(existsSync(path.join(out, 'credbake.lock'))).toBe(false)
    expect(credbakeEntries(runner.runnerTemp)).toEqual([])
  })

  it('after a main step that completed, removes nothing and exits 0', async () => {
    const runner = job(`completed-${nodeName}`)
    const out = path.join(runner.workspace, 'out')
    const main = await runner.step('main', bakeInputs(out), { node }).done
    expect(main.status, main.stdout + main.stderr).toBe(0)
    const { state, env } = stateEnv(path.join(work, `completed-${nodeName}`, 'main-state'))
    expect(state).toMatchObject({ isPost: 'true', lock: path.join(out, 'credbake.lock') })
    expect(state['secret-temp']).toBeTruthy()
    const before = readdirSync(out).sort()

    const post = await runner.step('post', {}, { node, env }).done
    expect(post.status, post.stdout + post.stderr).toBe(0)
    expect(post.stdout).not.toContain('removed')
    expect(post.stdout).toContain('nothing left behind')
    expect(post.stdout).not.toMatch(/::(error|warning)/)
    expect(readdirSync(out).sort()).toEqual(before)
  })

  it('leaves a lock that another run holds, or whose owner still runs, and a folder that is not a credbake secret folder', async () => {
    const runner = job(`foreign-${nodeName}`)
    const out = path.join(runner.workspace, 'out')
    mkdirSync(out)
    const lock = path.join(out, 'credbake.lock')
    const keep = path.join(runner.runnerTemp, 'not-credbake')
    mkdirSync(keep)
    writeFileSync(path.join(keep, 'file'), 'someone else’s')
    const dead = deadPid()
    const cases: Array<{ owner: number; mainPid: number; why: RegExp }> = [
      // The main step died, but another run (this test process, alive) has taken the lock since.
      { owner: process.pid, mainPid: dead, why: /held by another run/ },
      // The lock names the main step, which still runs (here: this test process).
      { owner: process.pid, mainPid: process.pid, why: /still running/ }
    ]
    for (const [index, { owner, mainPid, why }] of cases.entries()) {
      const text = `${JSON.stringify({ pid: owner, host: os.hostname(), startedAt: new Date().toISOString() })}\n`
      writeFileSync(lock, text)
      const env = { STATE_isPost: 'true', 'STATE_main-pid': String(mainPid), STATE_lock: lock, 'STATE_secret-temp': keep }
      const post = await runner.step(`post-${index}`, {}, { node, env }).done
      expect(post.status, post.stdout + post.stderr).toBe(0)
      expect(post.stdout).toMatch(why)
      expect(post.stdout).toMatch(/::warning::credbake post: not removing .*not-credbake: it is not a credbake secret temp folder/)
      expect(post.stdout).not.toContain('removed')
      expect(readFileSync(lock, 'utf8')).toBe(text)
      expect(readFileSync(path.join(keep, 'file'), 'utf8')).toBe('someone else’s')
    }
  })
})

describe('the post step prints paths as the main step does', () => {
  it('a folder name holding a line break and a workflow command cannot start one in the log', async () => {
    const runner = job('hostile-names')
    const out = path.join(runner.workspace, 'out\n::error::planted by a folder name')
    mkdirSync(out)
    const lock = path.join(out, 'credbake.lock')
    // The lock names this test process, which still runs: the post step leaves it and says so, with the path.
    writeFileSync(lock, `${JSON.stringify({ pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() })}\n`)
    const temp = path.join(runner.runnerTemp, 'not-credbake\n::warning::planted too')
    mkdirSync(temp)
    const env = { STATE_isPost: 'true', 'STATE_main-pid': String(process.pid), STATE_lock: lock, 'STATE_secret-temp': temp }
    const post = await runner.step('post', {}, { node: NODES[0]![1], env }).done
    expect(post.status, post.stdout + post.stderr).toBe(0)
    expect(post.stdout).toContain('out\\n::error::planted by a folder name/credbake.lock: its owner')
    expect(post.stdout).toContain('not-credbake\\n::warning::planted too')
    // No line of the log starts a workflow command from the names.
    expect(post.stdout).not.toMatch(/^\s*::(error|warning)::planted/m)
    expect(existsSync(lock)).toBe(true)
  })
})
