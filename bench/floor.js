// npm run bench:floor: how much room issue 9's ratio targets leave on this machine, in one run.
// Asserts nothing. It measures, one after the other:
//   - the naive node:crypto loop of `npm run bench` (the 2x target's baseline): CPU per device;
//   - credbake's own per-device cryptography in node:crypto, as a device worker does it (one reused
//     ECDH object per curve, generateKeys + getPrivateKey; crypto.sign of a 400-byte TBS with the
//     fleet CA key), and the same in C against the system's OpenSSL (bench/floor.c, built here when
//     `cc` and OpenSSL 3's headers are there): what calling OpenSSL directly could still save;
//   - one 20,000-device tar bake on tmpfs through dist/cli.js, its CPU split by thread (main, the
//     two device workers, the rest: V8's compiler and GC threads, libuv's pool), read from
//     /proc/PID/task every 50 ms;
//   - for images: SHA-256 of 222 MiB (what each output of bench/image.js's base must hash: its
//     rootfs superblock changes, so outputs share only the bytes before it), and how fast 64 MiB of
//     new pages come (each output's data).
// Environment: BENCH_DEVICES (20000), BENCH_NAIVE (5000), BENCH_TMPFS_DIR (/dev/shm).
import { execFileSync, spawn } from 'node:child_process'
import { createECDH, createHash, createPrivateKey, sign } from 'node:crypto'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { clockTicks, freshPages, loadAverage as load, makeBenchCa, naiveDevice, writeBenchManifest } from './fleet.js'

const root = path.resolve(import.meta.dirname, '..')
const cli = path.join(root, 'dist/cli.js')
const devices = Number(process.env.BENCH_DEVICES ?? 20000)
const naiveDevices = Number(process.env.BENCH_NAIVE ?? 5000)
const tmpfsWanted = process.env.BENCH_TMPFS_DIR ?? '/dev/shm'
const tmpfsDir = existsSync(tmpfsWanted) ? tmpfsWanted : os.tmpdir()
const cpuMicros = (used, count) => (used.user + used.system) / count
const best = (rounds, measure) => Math.min(...Array.from({ length: rounds }, measure))

/** µs of CPU per call of `body`, best of 3 rounds of `count`. */
function perCall(count, body) {
  return best(3, () => {
    const before = process.cpuUsage()
    for (let i = 0; i < count; i++) body(i)
    return cpuMicros(process.cpuUsage(before), count)
  })
}

/** The C figures ({ keygen, sign, sign1 } in µs), or a reason they are missing. */
function cFloor(work) {
  const binary = path.join(work, 'floor')
  try {
    execFileSync('cc', ['-O2', path.join(import.meta.dirname, 'floor.c'), '-lcrypto', '-o', binary], { stdio: 'pipe' })
  } catch (error) {
    return { missing: `cannot build bench/floor.c (${String(error.stderr ?? error.message).split('\n')[0]}): needs cc and libssl-dev` }
  }
  const out = execFileSync(binary, ['20000', '3', '400'], { encoding: 'utf8' })
  return Object.fromEntries(
    out
      .trim()
      .split('\n')
      .map((line) => line.split(' '))
      .map(([name, value]) => [name, Number(value)])
  )
}

/** Per-thread CPU (seconds) of one bake, sampled from /proc every 50 ms until the process ends. */
function threadCpu(args, env) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint()
    const child = spawn(process.execPath, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    const last = new Map()
    const sample = () => {
      let tasks = []
      try {
        tasks = readdirSync(`/proc/${child.pid}/task`)
      } catch {
        return
      }
      for (const tid of tasks) {
        try {
          const fields = readFileSync(`/proc/${child.pid}/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')
          last.set(Number(tid), (Number(fields[11]) + Number(fields[12])) / clockTicks)
        } catch {
          // the thread ended between readdir and read: its last sample stands
        }
      }
    }
    const timer = setInterval(sample, 50)
    child.on('error', reject)
    child.on('exit', (code) => {
      clearInterval(timer)
      if (code !== 0) return reject(new Error(`credbake failed: ${stderr}`))
      const wall = Number(process.hrtime.bigint() - started) / 1e9
      const main = last.get(child.pid) ?? 0
      const others = [...last]
        .filter(([tid]) => tid !== child.pid)
        .map(([, seconds]) => seconds)
        .sort((a, b) => b - a)
      // The device workers are the two busiest threads besides the main one.
      const workers = others.slice(0, 2).reduce((sum, s) => sum + s, 0)
      const rest = others.slice(2).reduce((sum, s) => sum + s, 0)
      resolve({ wall, main, workers, rest, threads: last.size })
    })
  })
}

const loadBefore = load()
const work = mkdtempSync(path.join(tmpfsDir, 'credbake-bench-floor-'))
const figures = {}
try {
  const { caKey, caCert } = makeBenchCa(work)
  const manifest = writeBenchManifest(path.join(work, 'devices.csv'), devices)
  const key = createPrivateKey(readFileSync(caKey))
  const tbs = Buffer.alloc(400, 7)

  figures.naive = perCall(naiveDevices, () => naiveDevice(key, tbs))
  const ecdh = createECDH('prime256v1')
  figures.nodeKeygen = perCall(20000, () => {
    ecdh.generateKeys()
    ecdh.getPrivateKey()
  })
  figures.nodeSign = perCall(20000, (i) => {
    tbs[i % tbs.length] ^= 1
    sign('sha256', tbs, key)
  })
  figures.c = cFloor(work)

  const out = path.join(work, 'out')
  execFileSync('sync')
  await new Promise((resolve) => setTimeout(resolve, 2000))
  figures.bake = await threadCpu([cli, 'bake', '--manifest', manifest, '--fleet-ca-cert', caCert, '--fleet-ca-key', caKey, '--format', 'tar', '--output-dir', out], {
    ...process.env,
    CI: 'true'
  })
  rmSync(out, { recursive: true, force: true })

  const zeros = Buffer.alloc(1 << 20)
  figures.sha256Ms = best(3, () => {
    const before = process.cpuUsage()
    const hash = createHash('sha256')
    for (let i = 0; i < 222; i++) hash.update(zeros)
    hash.digest()
    return cpuMicros(process.cpuUsage(before), 1) / 1000
  })
  figures.freshPages = freshPages(work)
} finally {
  rmSync(work, { recursive: true, force: true })
}

const us = (value) => `${value.toFixed(1)} µs`
const cores = os.availableParallelism()
const { bake, c } = figures
const perDevice = (seconds) => (seconds * 1e6) / devices
const bakeCpu = bake.main + bake.workers + bake.rest
console.log(`credbake floor bench (npm run bench:floor): ${cores} cores, load before ${loadBefore}, after ${load()}`)
console.log(
  `naive node:crypto loop: ${us(figures.naive)} of CPU per device. 2x its rate on ${cores} cores leaves credbake at most ${us((figures.naive * cores) / 2)} of CPU per device, all threads, start and review included.`
)
console.log(`credbake's cryptography per device: node:crypto key pair ${us(figures.nodeKeygen)} + signature ${us(figures.nodeSign)} = ${us(figures.nodeKeygen + figures.nodeSign)}`)
if (c.missing) console.log(`  in C: ${c.missing}`)
else {
  console.log(`  in C against the same kind of OpenSSL: key pair ${us(c.keygen)} + signature ${us(c.sign)} (reused context: ${us(c.sign1)}) = ${us(c.keygen + c.sign)}`)
  console.log(`  calling OpenSSL directly would save about ${us(figures.nodeKeygen + figures.nodeSign - c.keygen - c.sign)} per device`)
}
console.log(
  `tar bake, ${devices} devices on tmpfs: ${(devices / bake.wall).toFixed(0)} devices/s (${bake.wall.toFixed(2)} s, ${(bakeCpu / bake.wall).toFixed(2)} cores busy on average), ${us(perDevice(bakeCpu))} of CPU per device:`
)
console.log(
  `  main thread ${us(perDevice(bake.main))}, the two device workers ${us(perDevice(bake.workers))}, other threads (V8 compiler and GC, libuv) ${us(perDevice(bake.rest))}; ${bake.threads} threads`
)
const dataMs = figures.freshPages ? ((64 * 1.048576) / figures.freshPages) * 1000 : undefined
console.log(
  `images: SHA-256 of 222 MiB ${figures.sha256Ms.toFixed(0)} ms of CPU (${(figures.sha256Ms / cores).toFixed(0)} ms a device on ${cores} cores); new pages ${figures.freshPages?.toFixed(0) ?? '?'} MB/s, so 64 MiB of output data ${dataMs?.toFixed(0) ?? '?'} ms`
)
