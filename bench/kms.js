// npm run bench:kms: devices per second of `credbake bake` (EC P-256, tar, end to end through
// dist/cli.js) with the fleet CA key in AWS KMS, reached through the KMS stand-in of the tests
// (test/helpers/kms-server.ts, on 127.0.0.1) with 5 ms added per call — beside the same bake with
// the key in memory, measured in the same run. The real AWS SDK (dist/aws-kms.js, loaded by the bundle) talks to it; the
// stand-in runs in this process, so its ECDSA arithmetic (~0.5 ms per signature, BigInt) shares
// the machine with credbake. Prints rates; asserts nothing.
//   BENCH_DEVICES (default 2000), BENCH_KMS_LATENCY_MS (default 5), BENCH_KMS_THROTTLE (fraction
//   of Sign calls answered ThrottlingException in a third run; default 0.05, 0 to skip),
//   BENCH_CLI (the build to time, default dist/cli.js), BENCH_CLI_BEFORE (an older build's cli.js:
//   the KMS bake is then run by it too, right after, for a before/after ratio in the same run).
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { loadAverage, makeBenchCa, writeBenchManifest } from './fleet.js'
import { pathToFileURL } from 'node:url'
import ts from 'typescript'

const root = path.resolve(import.meta.dirname, '..')
const devices = Number(process.env.BENCH_DEVICES ?? 2000)
const latencyMs = Number(process.env.BENCH_KMS_LATENCY_MS ?? 5)
const throttle = Number(process.env.BENCH_KMS_THROTTLE ?? 0.05)
const work = mkdtempSync(path.join(os.tmpdir(), 'credbake-bench-kms-'))
const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9

/** The stand-in is TypeScript in the test tree: transpile its two files into the work folder. */
async function loadStandIn() {
  const dir = path.join(work, 'standin')
  mkdirSync(dir)
  writeFileSync(path.join(dir, 'package.json'), '{"type":"module"}')
  for (const name of ['kms-server', 'ecdsa-digest']) {
    const source = readFileSync(path.join(root, 'test/helpers', `${name}.ts`), 'utf8')
    const { outputText } = ts.transpileModule(source, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
    writeFileSync(path.join(dir, `${name}.js`), outputText)
  }
  return import(pathToFileURL(path.join(dir, 'kms-server.js')).href)
}

const cli = process.env.BENCH_CLI ? path.resolve(process.env.BENCH_CLI) : path.join(root, 'dist/cli.js')
const cliBefore = process.env.BENCH_CLI_BEFORE ? path.resolve(process.env.BENCH_CLI_BEFORE) : undefined

function bake(args, env, program = cli) {
  return new Promise((resolve, reject) => {
    const start = process.hrtime.bigint()
    const child = spawn(process.execPath, [program, 'bake', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk))
    child.stdout.resume()
    child.on('error', reject)
    child.on('close', (status) => (status === 0 ? resolve(seconds(start)) : reject(new Error(`credbake exited ${status}: ${stderr}`))))
  })
}

let kms
try {
  const { caKey, caCert } = makeBenchCa(work, '/CN=bench KMS fleet root')
  const manifest = writeBenchManifest(path.join(work, 'devices.csv'), devices)

  const { startKmsServer } = await loadStandIn()
  kms = await startKmsServer({ accessKeyId: 'AKIDBENCHCREDBAKE001', region: 'eu-west-1', latencyMs })
  const key = kms.addKey({ privateKeyPem: readFileSync(caKey, 'utf8'), aliases: ['alias/bench'] })
  const awsEnv = {
    AWS_ACCESS_KEY_ID: 'AKIDBENCHCREDBAKE001',
    AWS_SECRET_ACCESS_KEY: 'bench-secret',
    AWS_REGION: 'eu-west-1',
    AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'none'),
    AWS_CONFIG_FILE: path.join(work, 'none'),
    AWS_EC2_METADATA_DISABLED: 'true'
  }
  const common = (out) => ['--manifest', manifest, '--fleet-ca-cert', caCert, '--format', 'tar', '--output-dir', path.join(work, out)]

  const memorySeconds = await bake([...common('out-memory'), '--fleet-ca-key', caKey], {})
  const signsBefore = key.signs
  kms.stats.maxInFlight = 0
  const kmsSeconds = await bake([...common('out-kms'), '--fleet-ca-key', `awskms://${kms.hostPort}/alias/bench`], awsEnv)
  const kmsSigns = key.signs - signsBefore
  const maxInFlight = kms.stats.maxInFlight
  const connections = kms.stats.connections
  const beforeSeconds = cliBefore ? await bake([...common('out-kms-before'), '--fleet-ca-key', `awskms://${kms.hostPort}/alias/bench`], awsEnv, cliBefore) : undefined
  let throttled
  if (throttle > 0) {
    kms.throttleSignFraction = throttle
    const before = kms.stats.throttled
    const throttledSeconds = await bake([...common('out-kms-throttled'), '--fleet-ca-key', `awskms://${kms.hostPort}/alias/bench`], awsEnv)
    throttled = { seconds: throttledSeconds, count: kms.stats.throttled - before }
    kms.throttleSignFraction = 0
  }

  const load = loadAverage()
  const rate = (s) => `${(devices / s).toFixed(0).padStart(7)} devices/s  (${s.toFixed(2)} s)`
  console.log(`credbake bench:kms: ${devices} devices, EC P-256 fleet CA, tar format; ${os.availableParallelism()} cores, load ${load}`)
  console.log(`  key in memory                                 ${rate(memorySeconds)}`)
  console.log(
    `  awskms:// stand-in, ${latencyMs} ms per call              ${rate(kmsSeconds)}  ${kmsSigns} Sign calls, at most ${maxInFlight} in flight, ${connections} connections`
  )
  if (beforeSeconds !== undefined) console.log(`    the same with ${cliBefore}: ${rate(beforeSeconds)}  after / before ${(beforeSeconds / kmsSeconds).toFixed(2)}`)
  if (throttled) console.log(`  awskms://, ${(throttle * 100).toFixed(0)}% of Signs throttled (${throttled.count})     ${rate(throttled.seconds)}`)
  console.log(`  ratio KMS / in memory: ${(memorySeconds / kmsSeconds).toFixed(2)}`)
  console.log(`  ceiling of ${maxInFlight} in flight at ${latencyMs} ms per call: ${((maxInFlight * 1000) / latencyMs).toFixed(0)} signatures/s`)
} finally {
  await kms?.close()
  rmSync(work, { recursive: true, force: true })
}
