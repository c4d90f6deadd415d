// npm run bench:signer: `credbake bake` (EC P-256 devices, tar format, end to end through
// dist/cli.js) with the fleet CA key in memory (a PEM file), on a SoftHSM2 token (pkcs11:) and
// behind a signer program (exec:, test/fixtures/signers/faulty-signer.mjs in its good mode, which
// signs each digest in its one thread), in the same run; prints each rate, the ratio to the
// in-memory key, and the CPU of each bake per device (credbake and its signer process or program,
// from this process's children's times). Asserts nothing.
//
// Before and after a change, side by side: BENCH_CLI_BEFORE names another build's cli.js (for
// example main's: `git worktree add /tmp/before main && cd /tmp/before && npm ci && npm run bundle`,
// then BENCH_CLI_BEFORE=/tmp/before/dist/cli.js). Each signer path is then baked by both builds,
// alternating which goes first, BENCH_ROUNDS times (default 2; 1 without BENCH_CLI_BEFORE), and
// the medians and their ratio are printed. With it the bench also prints what one check of a
// signature costs here (node:crypto's P-256 verification, which the check of a signature from
// outside the process is dominated by; docs/signer-checks.md).
//
// BENCH_DEVICES (default 3000); BENCH_CLI (default dist/cli.js) times another build as "after";
// CREDBAKE_PKCS11_SESSIONS, if set, reaches the signer process. The token bake also reports the
// signer process's sessions and signatures per session (CREDBAKE_PKCS11_DIAGNOSTICS; absent from
// builds before it). Needs softhsm2, opensc (pkcs11-tool) and libengine-pkcs11-openssl.
import { execFileSync, spawnSync } from 'node:child_process'
import { generateKeyPairSync, randomBytes, sign, verify } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { clockTicks, loadAverage } from './fleet.js'

const root = path.resolve(import.meta.dirname, '..')
const devices = Number(process.env.BENCH_DEVICES ?? 3000)
/** The CLI to time: dist/cli.js, or BENCH_CLI (e.g. a copy of an older dist/ to compare against). */
const cli = process.env.BENCH_CLI ? path.resolve(process.env.BENCH_CLI) : path.join(root, 'dist/cli.js')
/** An older build timed beside `cli` in the same run, or undefined. */
const cliBefore = process.env.BENCH_CLI_BEFORE ? path.resolve(process.env.BENCH_CLI_BEFORE) : undefined
const rounds = Number(process.env.BENCH_ROUNDS ?? (cliBefore ? 2 : 1))
const module = '/usr/lib/softhsm/libsofthsm2.so'
const execSigner = path.join(root, 'test/fixtures/signers/faulty-signer.mjs')
let work = ''
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9

/** CPU seconds of this process's waited-for children so far (utime + stime of those that ended). */
function childrenCpu() {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // Fields 16 and 17 of proc(5) (cutime, cstime); `fields` starts at field 3.
  return (Number(fields[13]) + Number(fields[14])) / clockTicks
}

/** Runs one bake with `program` (a cli.js); returns devices per second, seconds and CPU µs per device. */
function bake(program, name, caName, key, env = {}) {
  const out = path.join(work, `out-${name}`)
  execFileSync('sync')
  const cpu = childrenCpu()
  const start = process.hrtime.bigint()
  const run = spawnSync(
    process.execPath,
    [
      program,
      'bake',
      '--manifest',
      path.join(work, 'devices.csv'),
      '--fleet-ca-cert',
      path.join(work, `${caName}.pem`),
      '--fleet-ca-key',
      key,
      '--pkcs11-module',
      module,
      '--format',
      'tar',
      '--output-dir',
      out
    ],
    { encoding: 'utf8', env: { ...process.env, ...env } }
  )
  const elapsed = seconds(start)
  const cpuMicros = ((childrenCpu() - cpu) * 1e6) / devices
  if (run.status !== 0) throw new Error(`credbake (${name}) failed: ${run.stderr}`)
  // Outputs stay until the work folder goes at the end: a large delete slows this disk's small-file
  // creation for a while, which would land on the next bake.
  const diagnostics = env.CREDBAKE_PKCS11_DIAGNOSTICS
  const signer = diagnostics && existsSync(diagnostics) ? JSON.parse(readFileSync(diagnostics, 'utf8')) : undefined
  return { rate: devices / elapsed, elapsed, cpuMicros, ...(signer ? { signer } : {}) }
}

/** Makes a token and two CAs in a temp folder, bakes with each signer (and each build), removes the folder. */
export function benchSigner() {
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-bench-signer-'))
  try {
    return measure()
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

function measure() {
  const tokens = path.join(work, 'tokens')
  mkdirSync(tokens)
  const conf = path.join(work, 'softhsm2.conf')
  writeFileSync(conf, `directories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\n`)
  const pin = 'bench-pin-4711'
  const env = { SOFTHSM2_CONF: conf }
  const run = (command, args, extra = {}) => execFileSync(command, args, { env: { ...process.env, ...env, ...extra }, stdio: 'pipe' })
  run('softhsm2-util', ['--init-token', '--free', '--label', 'bench', '--so-pin', 'bench-so-1', '--pin', pin])
  run('pkcs11-tool', [
    '--module',
    module,
    '--token-label',
    'bench',
    '--login',
    '--pin',
    pin,
    '--keypairgen',
    '--key-type',
    'EC:prime256v1',
    '--id',
    '01',
    '--label',
    'ca',
    '--sensitive'
  ])
  const caExtensions = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']
  run(
    'openssl',
    [
      'req',
      '-new',
      '-x509',
      '-engine',
      'pkcs11',
      '-keyform',
      'engine',
      '-key',
      `pkcs11:token=bench;object=ca;type=private;pin-value=${pin}`,
      '-subj',
      '/CN=bench token root',
      '-days',
      '3650',
      ...caExtensions,
      '-out',
      path.join(work, 'token.pem')
    ],
    { PKCS11_MODULE_PATH: module }
  )
  const fileKey = path.join(work, 'memory.key')
  run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', fileKey])
  run('openssl', ['req', '-x509', '-new', '-key', fileKey, '-subj', '/CN=bench memory root', '-days', '3650', ...caExtensions, '-out', path.join(work, 'memory.pem')])
  writeFileSync(path.join(work, 'devices.csv'), `serial\n${Array.from({ length: devices }, (_, i) => `BENCH-${i}`).join('\n')}\n`)

  const paths = {
    memory: { ca: 'memory', key: fileKey, env: {} },
    token: { ca: 'token', key: 'pkcs11:token=bench;object=ca', env: { ...env, CREDBAKE_FLEET_CA_KEY_PASSPHRASE: pin } },
    exec: { ca: 'memory', key: `exec:${execSigner}`, env: { CREDBAKE_TEST_SIGNER_KEY: fileKey, CREDBAKE_TEST_SIGNER_MODE: 'good' } }
  }
  const builds = cliBefore ? { after: cli, before: cliBefore } : { after: cli }
  /** results[path][build]: one entry per round. */
  const results = Object.fromEntries(Object.keys(paths).map((name) => [name, Object.fromEntries(Object.keys(builds).map((build) => [build, []]))]))
  for (let round = 0; round < rounds; round++) {
    for (const [name, signer] of Object.entries(paths)) {
      // The builds take turns going first, so a drift of the machine does not favour one.
      const order = round % 2 === 0 ? Object.keys(builds) : Object.keys(builds).reverse()
      for (const build of order) {
        const extra = name === 'token' ? { CREDBAKE_PKCS11_DIAGNOSTICS: path.join(work, `signer-${build}-${round}.json`) } : {}
        results[name][build].push(bake(builds[build], `${name}-${build}-${round}`, signer.ca, signer.key, { ...signer.env, ...extra }))
      }
    }
  }
  // Rate and CPU each by their own median (on a busy machine one run can be slow and frugal).
  const medianOf = (values) => {
    const sorted = [...values].sort((a, b) => a - b)
    const middle = sorted.length / 2
    return sorted.length % 2 ? sorted[Math.floor(middle)] : (sorted[middle - 1] + sorted[middle]) / 2
  }
  const median = (runs) => {
    const rate = medianOf(runs.map((r) => r.rate))
    const signer = runs.find((r) => r.signer)?.signer
    return { rate, elapsed: devices / rate, cpuMicros: medianOf(runs.map((r) => r.cpuMicros)), ...(signer ? { signer } : {}) }
  }
  const figures = Object.fromEntries(
    Object.entries(results).map(([name, byBuild]) => [
      name,
      Object.fromEntries(Object.entries(byBuild).map(([build, runs]) => [build, { ...median(runs), all: runs.map((r) => r.rate), allCpu: runs.map((r) => r.cpuMicros) }]))
    ])
  )
  return {
    devices,
    rounds,
    builds,
    memory: figures.memory.after,
    token: figures.token.after,
    exec: figures.exec.after,
    ratio: figures.token.after.rate / figures.memory.after.rate,
    figures,
    check: checkCost()
  }
}

/** µs of one P-256 verification over a 400-byte TBSCertificate in node:crypto, on this thread. */
function checkCost() {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const tbs = randomBytes(400)
  const signatures = Array.from({ length: 64 }, () => sign('sha256', tbs, privateKey))
  const count = 5000
  for (let i = 0; i < 500; i++) verify('sha256', tbs, publicKey, signatures[i % 64])
  const start = process.hrtime.bigint()
  for (let i = 0; i < count; i++) verify('sha256', tbs, publicKey, signatures[i % 64])
  return { verifyMicros: Number(process.hrtime.bigint() - start) / 1e3 / count }
}

export function printSignerBench(result) {
  const load = loadAverage()
  const before = Boolean(result.builds?.before)
  console.log(
    `credbake signer bench: ${result.devices} devices, EC P-256 CA and devices, tar format; ${os.availableParallelism()} cores, load ${load}` +
      (before ? `; ${result.rounds} rounds, medians; before = ${result.builds.before}` : '')
  )
  const names = { memory: 'fleet CA key in memory (PEM file)  ', token: 'fleet CA key on SoftHSM2 (pkcs11:) ', exec: 'signer program (exec:)             ' }
  const line = (figure) => `${figure.rate.toFixed(0).padStart(7)} devices/s  (${figure.elapsed.toFixed(2)} s, CPU ${figure.cpuMicros.toFixed(0)} µs a device)`
  for (const [name, label] of Object.entries(names)) {
    const figures = result.figures?.[name] ?? { after: result[name] }
    if (!figures.after) continue
    console.log(`  ${label} ${line(figures.after)}`)
    if (before && figures.before) {
      console.log(`    before:                           ${line(figures.before)}`)
      const list = (values) => values.map((v) => v.toFixed(0)).join(', ')
      console.log(
        `    after / before: ${(figures.after.rate / figures.before.rate).toFixed(2)} (rates ${list(figures.after.all)} against ${list(figures.before.all)}); CPU ${(figures.after.cpuMicros - figures.before.cpuMicros).toFixed(0)} µs a device more (${list(figures.after.allCpu)} against ${list(figures.before.allCpu)})`
      )
    }
  }
  const signer = result.token.signer
  if (signer)
    console.log(
      `  SoftHSM2 signer process: ${signer.sessions} sessions (${signer.mode}), signatures per session ${signer.perSession.join(' ')}, at most ${signer.maxInFlight} in flight${signer.cpuMs ? `, CPU ${signer.cpuMs.user + signer.cpuMs.system} ms (${(((signer.cpuMs.user + signer.cpuMs.system) * 1000) / result.devices).toFixed(0)} µs a device)` : ''}`
    )
  console.log(`  ratio SoftHSM2 / in memory: ${result.ratio.toFixed(2)}; signer program / in memory: ${(result.exec.rate / result.memory.rate).toFixed(2)}`)
  if (result.check) console.log(`  one P-256 signature check (node:crypto verify) here: ${result.check.verifyMicros.toFixed(0)} µs`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printSignerBench(benchSigner())
}
