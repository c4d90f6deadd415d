// npm run bench:memory: peak memory of `credbake bake` (EC P-256, tar format, end to end through
// dist/cli.js) at 100,000 devices against 10,000 (flat in the fleet size, or not), and how long
// the review phase takes. Asserts nothing. Run `npm run bundle` first when src/ changed.
//
// Peak RSS is VmHWM of the whole process (worker threads included), printed at exit by the
// bench/peak-rss.cjs preload. While it runs, VmRSS is sampled every 50 ms and split into phases by
// the journal: "bake" until this run's `complete` record is its last line, "review" after it (the
// final sync of output-dir, the review manifest, certificates.pem and SHA256SUMS written from the
// journal, the workers stopped, exit). A second run in the same output-dir resumes it (every device kept:
// the journal read back, every output verified, the review written again). Between the two,
// `credbake verify` checks the fresh bake's outputs against its manifest (issue 17: at most 256 MiB
// for 100,000 devices), its peak RSS read the same way.
//
// | variable | meaning | default |
// |---|---|---|
// | BENCH_MEMORY_DEVICES | the large fleet | 100000 |
// | BENCH_MEMORY_SMALL | the small fleet, for comparison (0 skips it) | 10000 |
// | BENCH_MEMORY_RESUME | 0 skips the resume runs | on |
// | BENCH_MEMORY_VERIFY | 0 skips the verify runs | on |
// | BENCH_MEMORY_DIR | work folder (outputs: about 12 KiB per device) | a new folder in /dev/shm (tmpfs) when there is one, else the OS temp dir |
// | BENCH_MEMORY_CLI | the credbake CLI to run (e.g. an older build's cli.js, for a baseline) | dist/cli.js |
// | BENCH_MEMORY_NODE | the node binary that runs it (e.g. test/node24's, the runtime of the action: its V8 sizes the heap differently) | this node |
//
// From bench/issue.js: `const { benchMemory, printMemoryBench } = await import('./memory.js')`.
import { execFileSync, spawn } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { makeBenchCa, writeBenchManifest } from './fleet.js'
import { pathToFileURL } from 'node:url'

const root = path.resolve(import.meta.dirname, '..')
const MiB = 1024 * 1024

/** VmRSS of a process in bytes, or undefined once it is gone. */
function rssOf(pid) {
  try {
    const match = /^VmRSS:\s*(\d+)\s*kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : undefined
  } catch {
    return undefined
  }
}

/** Size of a file, 0 when missing. */
function sizeOf(file) {
  try {
    return statSync(file).size
  } catch {
    return 0
  }
}

/** Whether the journal grew past `from` and its last line is a `complete` record. */
function completed(journal, from) {
  const size = sizeOf(journal)
  if (size <= from) return false
  const tail = Buffer.alloc(Math.min(512, size))
  const fd = openSync(journal, 'r')
  try {
    readSync(fd, tail, 0, tail.length, size - tail.length)
  } finally {
    closeSync(fd)
  }
  const text = tail.toString('latin1').trimEnd()
  return text.slice(text.lastIndexOf('\n') + 1).startsWith('{"type":"complete"')
}

/**
 * One `credbake bake` run, sampled. Resolves to { seconds, peakRss, bakePeakRss, reviewPeakRss,
 * reviewSeconds, devices }.
 */
function bakeOnce({ node, cli, manifest, caCert, caKey, out, devices }) {
  const journal = path.join(out, 'credbake-journal.jsonl')
  const journalBefore = sizeOf(journal)
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const now = () => Number(process.hrtime.bigint() - started) / 1e9
    const child = spawn(
      node,
      ['-r', path.join(root, 'bench/peak-rss.cjs'), cli, 'bake', '--manifest', manifest, '--fleet-ca-cert', caCert, '--fleet-ca-key', caKey, '--output-dir', out],
      { stdio: ['ignore', 'pipe', 'pipe'] }
    )
    let stderr = ''
    let stdout = ''
    /** When this run's `complete` record reached the journal (every device baked or kept). */
    let bakedAt
    let bakePeak = 0
    let reviewPeak = 0
    const sample = setInterval(() => {
      const rss = rssOf(child.pid)
      if (rss === undefined) return
      if (bakedAt === undefined && completed(journal, journalBefore)) bakedAt = now()
      if (bakedAt === undefined) bakePeak = Math.max(bakePeak, rss)
      else reviewPeak = Math.max(reviewPeak, rss)
    }, 50)
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => {
      clearInterval(sample)
      const seconds = now()
      if (code !== 0) return reject(new Error(`credbake bake exited with ${code}: ${stderr.slice(-2000)}`))
      const peak = /credbake-peak-rss-kib: (\d+)/.exec(stderr)
      resolve({
        devices,
        seconds,
        peakRss: peak ? Number(peak[1]) * 1024 : undefined,
        bakePeakRss: bakePeak,
        reviewPeakRss: reviewPeak,
        // From the complete record to exit: the final sync, the review files, exit.
        reviewSeconds: bakedAt === undefined ? undefined : seconds - bakedAt,
        output: stdout
      })
    })
  })
}

/** One `credbake verify` of a bake's manifest, with the peak-RSS preload. Resolves to { seconds, peakRss }. */
function verifyOnce({ node, cli, out, caCert }) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(node, ['-r', path.join(root, 'bench/peak-rss.cjs'), cli, 'verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', caCert], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, CI: 'true' }
    })
    let stderr = ''
    let stdout = ''
    child.stdout.on('data', (chunk) => {
      stdout += chunk
    })
    child.stderr.on('data', (chunk) => {
      stderr += chunk
    })
    child.on('error', reject)
    child.on('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9
      if (code !== 0) return reject(new Error(`credbake verify exited with ${code}: ${stdout.slice(-1000)}${stderr.slice(-1000)}`))
      const peak = /credbake-peak-rss-kib: (\d+)/.exec(stderr)
      resolve({ seconds, peakRss: peak ? Number(peak[1]) * 1024 : undefined })
    })
  })
}

/**
 * Bakes `devices` (and `small`, for comparison) in a fresh output-dir each, verifies it, then
 * resumes each once. Returns the figures; prints nothing.
 */
export async function benchMemory(options = {}) {
  const devices = Number(options.devices ?? process.env.BENCH_MEMORY_DEVICES ?? 100_000)
  const small = Number(options.small ?? process.env.BENCH_MEMORY_SMALL ?? 10_000)
  const resume = options.resume ?? process.env.BENCH_MEMORY_RESUME !== '0'
  const base = options.dir ?? process.env.BENCH_MEMORY_DIR ?? (existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir())
  const cli = path.resolve(options.cli ?? process.env.BENCH_MEMORY_CLI ?? path.join(root, 'dist/cli.js'))
  const node = options.node ?? process.env.BENCH_MEMORY_NODE ?? process.execPath
  const nodeVersion = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run bundle\` first`)
  const work = mkdtempSync(path.join(base, 'credbake-bench-memory-'))
  try {
    const { caKey, caCert } = makeBenchCa(work)
    const runs = []
    for (const count of small > 0 ? [small, devices] : [devices]) {
      const manifest = writeBenchManifest(path.join(work, `devices-${count}.csv`), count)
      const out = path.join(work, `out-${count}`)
      if (!base.startsWith('/dev/shm')) {
        execFileSync('sync')
        await new Promise((resolve) => setTimeout(resolve, 3000))
      }
      const fresh = await bakeOnce({ node, cli, manifest, caCert, caKey, out, devices: count })
      const verified = options.verify === false || process.env.BENCH_MEMORY_VERIFY === '0' ? undefined : await verifyOnce({ node, cli, out, caCert })
      const again = resume ? await bakeOnce({ node, cli, manifest, caCert, caKey, out, devices: count }) : undefined
      runs.push({ devices: count, fresh, verify: verified, resume: again })
      rmSync(out, { recursive: true, force: true })
    }
    const strip = ({ output, ...figures }) => figures
    return {
      cli,
      node: nodeVersion,
      dir: base,
      load: os.loadavg(),
      cores: os.availableParallelism(),
      runs: runs.map(({ devices: count, fresh, verify: verified, resume: again }) => ({
        devices: count,
        fresh: strip(fresh),
        ...(verified ? { verify: verified } : {}),
        ...(again ? { resume: strip(again) } : {})
      }))
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

/** The figures as a few lines, for `npm run bench:memory` and bench/issue.js. */
export function printMemoryBench(result, log = console.log) {
  const mib = (bytes) => (bytes === undefined ? '   ?' : (bytes / MiB).toFixed(0).padStart(4))
  const us = (run) => (run.reviewSeconds === undefined ? '?' : ((run.reviewSeconds * 1e6) / run.devices).toFixed(1))
  log(
    `credbake memory bench (${path.relative(root, result.cli) || result.cli}, Node ${result.node ?? process.version}): EC P-256, tar format, outputs in ${result.dir}; ${result.cores} cores, load ${result.load.map((l) => l.toFixed(2)).join(' ')}`
  )
  for (const { devices, fresh, verify, resume } of result.runs) {
    for (const [what, run] of [
      ['bake', fresh],
      ['verify', verify],
      ['resume', resume]
    ]) {
      if (!run) continue
      if (what === 'verify') {
        log(`  ${String(devices).padStart(7)} devices verify  peak RSS ${mib(run.peakRss)} MiB  ${run.seconds.toFixed(2)} s, ${(devices / run.seconds).toFixed(0)} devices/s`)
        continue
      }
      log(
        `  ${String(devices).padStart(7)} devices ${what.padEnd(6)}  peak RSS ${mib(run.peakRss)} MiB (bake ${mib(run.bakePeakRss)}, review ${mib(run.reviewPeakRss)})` +
          `  ${run.seconds.toFixed(2)} s, ${(devices / run.seconds).toFixed(0)} devices/s; review phase ${run.reviewSeconds?.toFixed(2) ?? '?'} s (${us(run)} us/device)`
      )
    }
  }
  const [smallRun, bigRun] = result.runs
  if (bigRun && smallRun && bigRun.fresh.peakRss && smallRun.fresh.peakRss) {
    log(`  peak RSS ${bigRun.devices} / ${smallRun.devices} devices: ${(bigRun.fresh.peakRss / smallRun.fresh.peakRss).toFixed(2)}x (target: at most 256 MiB at ${bigRun.devices})`)
  }
  if (bigRun?.verify?.peakRss && smallRun?.verify?.peakRss) {
    log(
      `  verify peak RSS ${bigRun.devices} / ${smallRun.devices} devices: ${(bigRun.verify.peakRss / smallRun.verify.peakRss).toFixed(2)}x (target: at most 256 MiB at ${bigRun.devices})`
    )
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  printMemoryBench(await benchMemory())
}
