// npm run bench:signer: `credbake bake` (EC P-256 devices, tar format, end to end through
// dist/cli.js) with the fleet CA key in memory (a PEM file) and the same bake with the key on a
// SoftHSM2 token (pkcs11:), in the same run; prints both rates and their ratio. Asserts nothing.
// BENCH_DEVICES (default 3000); BENCH_CLI (default dist/cli.js) times another build, e.g. a copy
// of an older dist/; CREDBAKE_PKCS11_SESSIONS, if set, reaches the signer process. The token bake
// also reports the signer process's sessions and signatures per session (CREDBAKE_PKCS11_DIAGNOSTICS;
// absent from builds before it). Needs softhsm2, opensc (pkcs11-tool) and libengine-pkcs11-openssl.
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadAverage } from './fleet.js'

const root = path.resolve(import.meta.dirname, '..')
const devices = Number(process.env.BENCH_DEVICES ?? 3000)
/** The CLI to time: dist/cli.js, or BENCH_CLI (e.g. a copy of an older dist/ to compare against). */
const cli = process.env.BENCH_CLI ? path.resolve(process.env.BENCH_CLI) : path.join(root, 'dist/cli.js')
const module = '/usr/lib/softhsm/libsofthsm2.so'
let work = ''
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9

/** Runs one bake; returns devices per second. */
function bake(name, key, env = {}) {
  const out = path.join(work, `out-${name}`)
  execFileSync('sync')
  const start = process.hrtime.bigint()
  const run = spawnSync(process.execPath, [cli, 'bake', '--manifest', path.join(work, 'devices.csv'),
    '--fleet-ca-cert', path.join(work, `${name}.pem`), '--fleet-ca-key', key, '--pkcs11-module', module, '--format', 'tar', '--output-dir', out],
    { encoding: 'utf8', env: { ...process.env, ...env } })
  const elapsed = seconds(start)
  if (run.status !== 0) throw new Error(`credbake (${name}) failed: ${run.stderr}`)
  // Outputs stay until the work folder goes at the end: a large delete slows this disk's small-file
  // creation for a while, which would land on the next bake.
  const diagnostics = env.CREDBAKE_PKCS11_DIAGNOSTICS
  const signer = diagnostics && existsSync(diagnostics) ? JSON.parse(readFileSync(diagnostics, 'utf8')) : undefined
  return { rate: devices / elapsed, elapsed, ...(signer ? { signer } : {}) }
}

/** Makes a token and two CAs in a temp folder, bakes with each, removes the folder. */
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
  run('pkcs11-tool', ['--module', module, '--token-label', 'bench', '--login', '--pin', pin, '--keypairgen', '--key-type', 'EC:prime256v1', '--id', '01', '--label', 'ca', '--sensitive'])
  const caExtensions = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign']
  run('openssl', ['req', '-new', '-x509', '-engine', 'pkcs11', '-keyform', 'engine', '-key', `pkcs11:token=bench;object=ca;type=private;pin-value=${pin}`,
    '-subj', '/CN=bench token root', '-days', '3650', ...caExtensions, '-out', path.join(work, 'token.pem')], { PKCS11_MODULE_PATH: module })
  const fileKey = path.join(work, 'memory.key')
  run('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', fileKey])
  run('openssl', ['req', '-x509', '-new', '-key', fileKey, '-subj', '/CN=bench memory root', '-days', '3650', ...caExtensions, '-out', path.join(work, 'memory.pem')])
  writeFileSync(path.join(work, 'devices.csv'), `serial\n${Array.from({ length: devices }, (_, i) => `BENCH-${i}`).join('\n')}\n`)

  const memory = bake('memory', fileKey)
  const token = bake('token', 'pkcs11:token=bench;object=ca', { ...env, CREDBAKE_FLEET_CA_KEY_PASSPHRASE: pin, CREDBAKE_PKCS11_DIAGNOSTICS: path.join(work, 'signer.json') })
  return { devices, memory, token, ratio: token.rate / memory.rate }
}

export function printSignerBench(result) {
  const load = loadAverage()
  console.log(`credbake signer bench: ${result.devices} devices, EC P-256 CA and devices, tar format; ${os.availableParallelism()} cores, load ${load}`)
  console.log(`  fleet CA key in memory (PEM file)   ${result.memory.rate.toFixed(0).padStart(7)} devices/s  (${result.memory.elapsed.toFixed(2)} s)`)
  console.log(`  fleet CA key on SoftHSM2 (pkcs11:)  ${result.token.rate.toFixed(0).padStart(7)} devices/s  (${result.token.elapsed.toFixed(2)} s)`)
  const signer = result.token.signer
  if (signer) console.log(`  SoftHSM2 signer process: ${signer.sessions} sessions (${signer.mode}), signatures per session ${signer.perSession.join(' ')}, at most ${signer.maxInFlight} in flight${signer.cpuMs ? `, CPU ${signer.cpuMs.user + signer.cpuMs.system} ms (${((signer.cpuMs.user + signer.cpuMs.system) * 1000 / result.devices).toFixed(0)} µs a device)` : ''}`)
  console.log(`  ratio SoftHSM2 / in memory: ${result.ratio.toFixed(2)}`)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  printSignerBench(benchSigner())
}
