// npm run bench: every figure of issue 9 (and issue 8's signer ratio) in one run. Asserts nothing.
//   - credbake `bake` (EC P-256, tar format, end to end through dist/cli.js) on disk and on tmpfs,
//     and `credbake verify` of the same outputs right after each bake (issue 17: at least half the
//     bake's rate, measured in the same run);
//   - the two baselines, measured here: a naive single-thread node:crypto loop (key pair, PKCS#8
//     PEM export, SPKI export, one ECDSA signature per device) and the OTA Connect documentation's
//     openssl procedure (genpkey, req, x509 -req per device); and the ratios;
//   - the same tar bake with the fleet CA key in memory and on a SoftHSM2 token (bench/signer.js);
//   - peak RSS of a 100,000-device bake (bench/memory.js);
//   - images against the like-for-like shell loop, with and without `openssl dgst` (bench/image.js);
//   - the machine's load average before and after, and how fast it hands out new pages (freshPages).
// Disk runs start after `sync` and a pause, and outputs are removed only at the end (this disk slows
// small-file creation for a while after large deletes). Environment: BENCH_DEVICES (20000), BENCH_ROUNDS (3), BENCH_NAIVE (5000),
// BENCH_OPENSSL (20), BENCH_DISK_DIR (os.tmpdir()), BENCH_TMPFS_DIR (/dev/shm),
// BENCH_SKIP=signer,memory,images to leave parts out.
import { execFileSync, spawnSync } from 'node:child_process'
import { createPrivateKey } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { clockTicks, freshPages, loadAverage as load, makeBenchCa, naiveDevice, writeBenchManifest } from './fleet.js'

const root = path.resolve(import.meta.dirname, '..')
const cli = path.join(root, 'dist/cli.js')
const devices = Number(process.env.BENCH_DEVICES ?? 20000)
const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
const naiveDevices = Number(process.env.BENCH_NAIVE ?? 5000)
const opensslDevices = Number(process.env.BENCH_OPENSSL ?? 20)
const diskDir = process.env.BENCH_DISK_DIR ?? os.tmpdir()
const tmpfsDir = process.env.BENCH_TMPFS_DIR ?? '/dev/shm'
const skip = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean))
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
// CPU seconds (user + system) of the children waited for so far: /proc/self/stat's cutime and
// cstime, in clock ticks. On a shared machine CPU per device moves much less with the load than
// devices per second do. Undefined where there is no /proc.
const childCpu = () => {
  try {
    const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
    return (Number(fields[13]) + Number(fields[14])) / clockTicks
  } catch {
    return undefined
  }
}
const micros = (cpuSeconds, count) => (cpuSeconds === undefined ? undefined : (cpuSeconds * 1e6) / count)

const loadBefore = load()
const work = mkdtempSync(path.join(diskDir, 'credbake-bench-'))
const tmpfsWork = existsSync(tmpfsDir) ? mkdtempSync(path.join(tmpfsDir, 'credbake-bench-')) : undefined
const figures = {}
try {
  figures.freshPages = { disk: freshPages(work), ...(tmpfsWork ? { tmpfs: freshPages(tmpfsWork) } : {}) }
  const { caKey, caCert } = makeBenchCa(work)
  const manifest = writeBenchManifest(path.join(work, 'devices.csv'), devices)

  // Baseline 1: node:crypto alone, one thread.
  const key = createPrivateKey(execFileSync('openssl', ['pkey', '-in', caKey]))
  const tbs = Buffer.alloc(400, 7)
  let start = process.hrtime.bigint()
  const naiveCpu = process.cpuUsage()
  for (let i = 0; i < naiveDevices; i++) naiveDevice(key, tbs)
  figures.naive = naiveDevices / seconds(start)
  const naiveUsed = process.cpuUsage(naiveCpu)
  figures.naiveCpuMicros = (naiveUsed.user + naiveUsed.system) / naiveDevices

  // Baseline 2: the documented openssl procedure, per device.
  const ext = path.join(work, 'client.ext')
  writeFileSync(ext, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,clientAuth\n')
  start = process.hrtime.bigint()
  for (let i = 0; i < opensslDevices; i++) {
    const dir = path.join(work, `openssl-${i}`)
    execFileSync('mkdir', ['-p', dir])
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${dir}/pkey.pem`])
    execFileSync('openssl', ['req', '-new', '-key', `${dir}/pkey.pem`, '-subj', `/CN=dev-${i}`, '-out', `${dir}/device.csr`])
    execFileSync(
      'openssl',
      ['x509', '-req', '-days', '365', '-extfile', ext, '-in', `${dir}/device.csr`, '-CA', caCert, '-CAkey', caKey, '-CAcreateserial', '-out', `${dir}/client.pem`],
      { stdio: 'ignore' }
    )
  }
  figures.openssl = opensslDevices / seconds(start)

  // credbake end to end, rounds alternating disk and tmpfs; each output-dir is new, all removed at the end.
  const places = [['disk', work], ...(tmpfsWork ? [['tmpfs', tmpfsWork]] : [])]
  const rates = Object.fromEntries(places.map(([name]) => [name, []]))
  const verifyRates = Object.fromEntries(places.map(([name]) => [name, []]))
  const cpu = Object.fromEntries(places.map(([name]) => [name, []]))
  const verifyCpu = Object.fromEntries(places.map(([name]) => [name, []]))
  for (let round = 0; round < rounds; round++) {
    for (const [name, base] of places) {
      const out = path.join(base, `out-${round}`)
      execFileSync('sync')
      await pause(3000)
      start = process.hrtime.bigint()
      const cpuBefore = childCpu()
      const run = spawnSync(process.execPath, [cli, 'bake', '--manifest', manifest, '--fleet-ca-cert', caCert, '--fleet-ca-key', caKey, '--format', 'tar', '--output-dir', out], {
        encoding: 'utf8',
        env: { ...process.env, CI: 'true' }
      })
      const elapsed = seconds(start)
      if (run.status !== 0) throw new Error(`credbake failed: ${run.stderr}`)
      rates[name].push(devices / elapsed)
      const cpuAfter = childCpu()
      if (cpuBefore !== undefined && cpuAfter !== undefined) cpu[name].push(micros(cpuAfter - cpuBefore, devices))
      // verify of what was just baked, at once: the same outputs, the same machine state.
      start = process.hrtime.bigint()
      const verifyCpuBefore = childCpu()
      const checked = spawnSync(process.execPath, [cli, 'verify', '--manifest', path.join(out, 'credbake-manifest.json'), '--fleet-ca-cert', caCert], {
        encoding: 'utf8',
        env: { ...process.env, CI: 'true' }
      })
      const verifyElapsed = seconds(start)
      if (checked.status !== 0) throw new Error(`credbake verify failed: ${checked.stdout.slice(-2000)}${checked.stderr.slice(-2000)}`)
      verifyRates[name].push(devices / verifyElapsed)
      const verifyCpuAfter = childCpu()
      if (verifyCpuBefore !== undefined && verifyCpuAfter !== undefined) verifyCpu[name].push(micros(verifyCpuAfter - verifyCpuBefore, devices))
      // Kept until the end: a large delete slows this disk's small-file creation for a while after.
    }
  }
  figures.tar = Object.fromEntries(
    Object.entries(rates).map(([name, list]) => [name, { median: median(list), best: Math.max(...list), all: list, cpuMicros: cpu[name].length ? median(cpu[name]) : undefined }])
  )
  figures.verify = Object.fromEntries(
    Object.entries(verifyRates).map(([name, list]) => [
      name,
      { median: median(list), all: list, ratios: list.map((rate, round) => rate / rates[name][round]), cpuMicros: verifyCpu[name].length ? median(verifyCpu[name]) : undefined }
    ])
  )
} finally {
  rmSync(work, { recursive: true, force: true })
  if (tmpfsWork) rmSync(tmpfsWork, { recursive: true, force: true })
}

const rate = (value) => `${value.toFixed(0).padStart(6)} devices/s`
console.log(`credbake bench (npm run bench): ${os.availableParallelism()} cores, load before ${loadBefore}`)
const mbs = (value) => (value === undefined ? '?' : `${value.toFixed(0)} MB/s`)
console.log(`new pages (256 MiB into a new file, no fsync): disk page cache ${mbs(figures.freshPages.disk)}, tmpfs ${mbs(figures.freshPages.tmpfs)}`)
console.log(`tar format, EC P-256, ${devices} devices, end to end through dist/cli.js, ${rounds} rounds (median, best):`)
for (const [name, figure] of Object.entries(figures.tar)) {
  const perDevice = figure.cpuMicros === undefined ? '' : `; CPU (all threads) ${figure.cpuMicros.toFixed(0)} µs per device, median`
  console.log(`  credbake on ${name.padEnd(5)} ${rate(figure.median)}  best ${rate(figure.best)}  (${figure.all.map((r) => r.toFixed(0)).join(', ')})${perDevice}`)
}
for (const [name, figure] of Object.entries(figures.verify)) {
  const perDevice = figure.cpuMicros === undefined ? '' : `; CPU (all threads) ${figure.cpuMicros.toFixed(0)} µs per device, median`
  console.log(
    `  verify   on ${name.padEnd(5)} ${rate(figure.median)}  (${figure.all.map((r) => r.toFixed(0)).join(', ')}), each right after its bake: ${figure.ratios.map((r) => `${r.toFixed(2)}x`).join(', ')} the bake's rate (target ≥ 0.5x)${perDevice}`
  )
}
console.log(`  baseline: naive node:crypto loop, 1 thread (${naiveDevices} devices)  ${rate(figures.naive)}; CPU ${figures.naiveCpuMicros.toFixed(0)} µs per device`)
console.log(`  baseline: OTA Connect openssl procedure (${opensslDevices} devices)   ${rate(figures.openssl)}`)
for (const [name, figure] of Object.entries(figures.tar)) {
  console.log(
    `  ratio on ${name.padEnd(5)}: ${(figure.median / figures.naive).toFixed(2)}x the node:crypto loop (target ≥ 2), ${(figure.median / figures.openssl).toFixed(0)}x the openssl procedure (target ≥ 350); 4,000/s target: ${figure.median >= 4000 ? 'met' : 'not met'}`
  )
}

if (!skip.has('signer')) {
  const { benchSigner, printSignerBench } = await import('./signer.js')
  printSignerBench(benchSigner())
}
if (!skip.has('memory')) {
  const memory = await import('./memory.js')
  if (typeof memory.benchMemory === 'function') {
    memory.printMemoryBench(await memory.benchMemory({}))
  }
}
if (!skip.has('images')) {
  const images = await import('./image.js')
  if (typeof images.benchImages === 'function') {
    // The like-for-like loop runs on disk (os.tmpdir()) and on tmpfs, quick mode (32 devices, 2 rounds).
    for (const dir of [undefined, ...(existsSync(tmpfsDir) ? [tmpfsDir] : [])]) {
      const folder = dir ? mkdtempSync(path.join(dir, 'credbake-bench-image-')) : undefined
      try {
        images.printImageResult(await images.benchImages({ quick: true, log: null, ...(folder ? { dir: folder } : {}) }))
      } finally {
        if (folder) rmSync(folder, { recursive: true, force: true })
      }
    }
  }
}
console.log(`load after: ${load()}`)
