// npm run bench: devices per second of `credbake bake` (EC P-256, tar format, end to end through
// dist/cli.js), against two baselines measured in the same run:
//   - node:crypto alone: P-256 key generation + export + one ECDSA signature per device, one thread
//     (the floor of what any Node tool pays per certificate);
//   - the OTA Connect documentation's openssl procedure (genpkey, req, x509 -req per device).
// Prints rates and ratios; asserts nothing. BENCH_DEVICES (default 3000), BENCH_OPENSSL (default 20).
import { execFileSync, spawnSync } from 'node:child_process'
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const root = path.resolve(import.meta.dirname, '..')
const devices = Number(process.env.BENCH_DEVICES ?? 3000)
const opensslDevices = Number(process.env.BENCH_OPENSSL ?? 20)
const work = mkdtempSync(path.join(os.tmpdir(), 'credbake-bench-'))
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9

try {
  const caKey = path.join(work, 'ca.key')
  const caCert = path.join(work, 'ca.pem')
  execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', caKey])
  execFileSync('openssl', ['req', '-x509', '-new', '-key', caKey, '-subj', '/CN=bench fleet root', '-days', '3650',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign', '-out', caCert])
  const manifest = path.join(work, 'devices.csv')
  writeFileSync(manifest, `serial\n${Array.from({ length: devices }, (_, i) => `BENCH-${i}`).join('\n')}\n`)

  // Baseline 1: node:crypto alone, one thread.
  const key = createPrivateKey(execFileSync('openssl', ['pkey', '-in', caKey]))
  const tbs = Buffer.alloc(400, 7)
  let start = process.hrtime.bigint()
  for (let i = 0; i < devices; i++) {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
    pair.privateKey.export({ type: 'pkcs8', format: 'pem' })
    pair.publicKey.export({ type: 'spki', format: 'der' })
    sign('sha256', tbs, key)
  }
  const cryptoRate = devices / seconds(start)

  // credbake end to end.
  const out = path.join(work, 'out')
  start = process.hrtime.bigint()
  const run = spawnSync(process.execPath, [path.join(root, 'dist/cli.js'), 'bake', '--manifest', manifest,
    '--fleet-ca-cert', caCert, '--fleet-ca-key', caKey, '--output-dir', out], { encoding: 'utf8' })
  const credbakeSeconds = seconds(start)
  if (run.status !== 0) throw new Error(`credbake failed: ${run.stderr}`)
  const credbakeRate = devices / credbakeSeconds

  // Baseline 2: the documented openssl procedure, per device.
  const ext = path.join(work, 'client.ext')
  writeFileSync(ext, 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,clientAuth\n')
  start = process.hrtime.bigint()
  for (let i = 0; i < opensslDevices; i++) {
    const dir = path.join(work, `openssl-${i}`)
    execFileSync('mkdir', ['-p', dir])
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', `${dir}/pkey.pem`])
    execFileSync('openssl', ['req', '-new', '-key', `${dir}/pkey.pem`, '-subj', `/CN=dev-${i}`, '-out', `${dir}/device.csr`])
    execFileSync('openssl', ['x509', '-req', '-days', '365', '-extfile', ext, '-in', `${dir}/device.csr`, '-CA', caCert,
      '-CAkey', caKey, '-CAcreateserial', '-out', `${dir}/client.pem`], { stdio: 'ignore' })
  }
  const opensslRate = opensslDevices / seconds(start)

  const load = os.loadavg().map((l) => l.toFixed(2)).join(' ')
  console.log(`credbake bench: ${devices} devices, EC P-256, tar format; ${os.availableParallelism()} cores, load ${load}`)
  console.log(`  credbake bake (end to end)        ${credbakeRate.toFixed(0).padStart(7)} devices/s  (${credbakeSeconds.toFixed(2)} s)`)
  console.log(`  node:crypto keygen+sign, 1 thread ${cryptoRate.toFixed(0).padStart(7)} devices/s`)
  console.log(`  openssl procedure (${opensslDevices} devices)   ${opensslRate.toFixed(1).padStart(7)} devices/s`)
  console.log(`  ratio credbake / node:crypto 1 thread: ${(credbakeRate / cryptoRate).toFixed(2)}`)
  console.log(`  ratio credbake / openssl procedure:    ${(credbakeRate / opensslRate).toFixed(0)}x`)
} finally {
  rmSync(work, { recursive: true, force: true })
}

// The same bake with the fleet CA key in memory and on a SoftHSM2 token (bench/signer.js).
const { benchSigner, printSignerBench } = await import('./signer.js')
printSignerBench(benchSigner())
