// The AWS SDK ships as dist/aws-kms.js beside dist/index.js and dist/cli.js, loaded with import()
// only when an awskms:// key is opened (rollup.config.js, src/signer/awskms-sdk.ts). Proven here on
// a copy of action.yml + dist/ alone in an empty folder (no node_modules anywhere above it):
//   - the copied action bakes with an awskms:// key under Node 20 and Node 24, and the copied CLI
//     does too: the lazily loaded file is in dist/ and found beside the bundle;
//   - a bake with a PEM key never evaluates the SDK (the SDK bundle sets a global marker when it is
//     evaluated; a preload reports it at exit, and reports it set for the awskms:// runs), and a
//     copy without dist/aws-kms.js still bakes with a PEM key, worker threads included;
//   - without dist/aws-kms.js an awskms:// key fails naming the missing file.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startKmsServer, type KmsKey, type KmsStandIn } from '../helpers/kms-server.js'
import { cleanupPki, generateKey, makePkiDir, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { NODE20, NODE24, parseOutputs, tempEnv } from '../helpers/run.js'
import { checkOutputDir } from '../robustness/invariants.js'
import { cleanupActionCopies, copyAction } from './action-run.js'

const ACCESS_KEY_ID = 'AKIDTESTCREDBAKE0003'
const SECRET = 'dist-secret-access-key-never-printed/0123456789abcdef'

let kms: KmsStandIn
let key: KmsKey
/** The CA whose key the stand-in holds. */
let kmsCa: CaFixture
/** A CA whose key is a PEM file. */
let pemCa: CaFixture
let work: string
/** Preload that writes, at exit of the main thread, whether the SDK bundle was evaluated. */
let markerPreload: string
/** action.yml + dist/ alone. */
let action: string
/** The same without dist/aws-kms.js. */
let actionWithoutSdk: string

interface NodeRun {
  status: number | null
  stdout: string
  stderr: string
  /** Whether the SDK bundle was evaluated in the main thread. */
  sdkEvaluated: boolean
}

function awsEnv(): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: SECRET,
    AWS_REGION: 'eu-west-1',
    AWS_SHARED_CREDENTIALS_FILE: path.join(work, 'no-credentials'),
    AWS_CONFIG_FILE: path.join(work, 'no-config'),
    AWS_EC2_METADATA_DISABLED: 'true'
  }
}

/** `node -r MARKER SCRIPT ARGS` in a fresh environment (only what is given, PATH and TMPDIR). */
function runNode(node: string, script: string, args: string[], opts: { cwd: string; env: Record<string, string> }): Promise<NodeRun> {
  const markerFile = path.join(mkdtempSync(path.join(work, 'marker-')), 'sdk')
  return new Promise((resolve, reject) => {
    const child = spawn(node, ['-r', markerPreload, script, ...args], {
      cwd: opts.cwd,
      env: { ...tempEnv(), PATH: process.env.PATH ?? '/usr/bin:/bin', ...opts.env, CREDBAKE_TEST_SDK_MARKER: markerFile },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.on('error', reject)
    child.on('close', (status) => {
      const marker = readFileSync(markerFile, 'utf8')
      resolve({ status, stdout, stderr, sdkEvaluated: marker === 'evaluated' })
    })
  })
}

/** The copied action as a runner starts it: INPUT_* variables, runner files, HOME in the runner folder. */
async function runCopiedAction(
  folder: string,
  node: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {}
): Promise<NodeRun & { outputs: Record<string, string>; summary: string; outputsText: string; workspace: string }> {
  const runner = mkdtempSync(path.join(work, 'runner-'))
  const files = {
    output: path.join(runner, 'github_output'),
    summary: path.join(runner, 'step_summary'),
    temp: path.join(runner, 'temp'),
    workspace: path.join(runner, 'workspace')
  }
  mkdirSync(files.temp)
  mkdirSync(files.workspace)
  writeFileSync(files.output, '')
  writeFileSync(files.summary, '')
  const runnerEnv: Record<string, string> = {
    HOME: runner,
    GITHUB_OUTPUT: files.output,
    GITHUB_STEP_SUMMARY: files.summary,
    GITHUB_WORKSPACE: files.workspace,
    RUNNER_TEMP: files.temp,
    GITHUB_ACTIONS: 'true',
    ...env
  }
  for (const [name, value] of Object.entries(inputs)) runnerEnv[`INPUT_${name.toUpperCase().replace(/ /g, '_')}`] = value
  const run = await runNode(node, path.join(folder, 'dist/index.js'), [], { cwd: files.workspace, env: runnerEnv })
  const outputsText = readFileSync(files.output, 'utf8')
  return { ...run, outputs: parseOutputs(outputsText), outputsText, summary: readFileSync(files.summary, 'utf8'), workspace: files.workspace }
}

function manifest(name: string, count: number): { file: string; serials: string[] } {
  const serials = Array.from({ length: count }, (_, i) => `DIST-${String(i).padStart(4, '0')}`)
  const file = path.join(work, name)
  writeFileSync(file, `serial\n${serials.join('\n')}\n`)
  return { file, serials }
}

/** No file of output-dir and no output stream holds the AWS secret. */
function expectNoSecret(out: string, ...texts: string[]): void {
  for (const text of texts) expect(text).not.toContain(SECRET)
  for (const name of readdirSync(out, { recursive: true, encoding: 'utf8' })) {
    const file = path.join(out, name)
    if (statSync(file).isFile()) expect(readFileSync(file).includes(SECRET), name).toBe(false)
  }
}

beforeAll(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'kmstest-dist-'))
  markerPreload = path.join(work, 'sdk-marker.cjs')
  writeFileSync(
    markerPreload,
    [
      "const { writeFileSync } = require('node:fs')",
      "const { isMainThread } = require('node:worker_threads')",
      'if (isMainThread) {',
      "  process.on('exit', () => writeFileSync(process.env.CREDBAKE_TEST_SDK_MARKER, globalThis[Symbol.for('credbake.awskms-sdk')] === true ? 'evaluated' : 'not evaluated'))",
      '}',
      ''
    ].join('\n')
  )
  const keyDir = makePkiDir('kmstest-dist-ca-')
  const caKey = generateKey('ec-p256', { dir: keyDir, name: 'kms-fleet' })
  kmsCa = makeRootCa({ key: caKey, dir: keyDir, subject: '/CN=KMS Fleet CA/O=credbake tests' })
  kms = await startKmsServer({ accessKeyId: ACCESS_KEY_ID, region: 'eu-west-1' })
  key = kms.addKey({ privateKeyPem: caKey.pem, aliases: ['alias/fleet'] })
  rmSync(caKey.path)
  pemCa = makeRootCa({ keyType: 'ec-p256', dir: makePkiDir('kmstest-dist-pem-'), subject: '/CN=PEM Fleet CA/O=credbake tests' })
  action = copyAction()
  actionWithoutSdk = copyAction()
  rmSync(path.join(actionWithoutSdk, 'dist/aws-kms.js'))
})

afterAll(async () => {
  await kms?.close()
  cleanupActionCopies()
  cleanupPki()
  if (work) rmSync(work, { recursive: true, force: true })
})

describe('dist/aws-kms.js: the AWS SDK, shipped beside the bundles and loaded only for awskms://', () => {
  it('the copy holds dist/aws-kms.js beside index.js and cli.js', () => {
    expect(readdirSync(path.join(action, 'dist')).sort()).toEqual(expect.arrayContaining(['aws-kms.js', 'cli.js', 'index.js']))
  })

  for (const [label, node] of [
    ['node20', NODE20],
    ['node24', NODE24]
  ] as const) {
    it(`the copied action bakes with fleet-ca-key: awskms:// under ${label}`, async () => {
      const { file, serials } = manifest(`fleet-action-${label}.csv`, 10)
      const signsBefore = key.signs
      const result = await runCopiedAction(
        action,
        node,
        { manifest: file, 'fleet-ca-cert': kmsCa.certPem, 'fleet-ca-key': `awskms://${kms.hostPort}/alias/fleet`, format: 'tar', 'output-dir': 'out' },
        awsEnv()
      )
      expect(result.status, result.stderr + result.stdout).toBe(0)
      expect(result.sdkEvaluated).toBe(true)
      expect(result.outputs.devices).toBe('10')
      expect(key.signs - signsBefore).toBe(11)
      const out = path.join(result.workspace, 'out')
      expect(checkOutputDir({ outputDir: out, rootPem: kmsCa.certPem, serials }).problems).toEqual([])
      expectNoSecret(out, result.stdout, result.stderr, result.summary, result.outputsText)
    })
  }

  it('the copied CLI bakes with an awskms:// key (Node 24, no NODE_PATH)', async () => {
    const { file, serials } = manifest('fleet-cli.csv', 10)
    const out = path.join(work, 'out-cli')
    const result = await runNode(
      NODE24,
      path.join(action, 'dist/cli.js'),
      ['bake', '--manifest', file, '--fleet-ca-cert', kmsCa.certPath, '--fleet-ca-key', `awskms://${kms.hostPort}/alias/fleet`, '--format', 'tar', '--output-dir', out],
      {
        cwd: action,
        env: { HOME: work, ...awsEnv() }
      }
    )
    expect(result.status, result.stderr).toBe(0)
    expect(result.sdkEvaluated).toBe(true)
    expect(checkOutputDir({ outputDir: out, rootPem: kmsCa.certPem, serials }).problems).toEqual([])
    expectNoSecret(out, result.stdout, result.stderr)
  })

  it('a PEM-key bake (CLI, 2 worker threads) does not evaluate the SDK, and needs no dist/aws-kms.js', async () => {
    // 300 devices: enough for the issuance worker threads (they re-run dist/cli.js).
    const { file, serials } = manifest('fleet-pem.csv', 300)
    for (const [folder, name] of [
      [action, 'with'],
      [actionWithoutSdk, 'without']
    ] as const) {
      const out = path.join(work, `out-pem-${name}`)
      const result = await runNode(
        NODE20,
        path.join(folder, 'dist/cli.js'),
        ['bake', '--manifest', file, '--fleet-ca-cert', pemCa.certPath, '--fleet-ca-key', pemCa.keyPath, '--format', 'tar', '--concurrency', '2', '--output-dir', out],
        {
          cwd: folder,
          env: { HOME: work }
        }
      )
      expect(result.status, `${name} aws-kms.js: ${result.stderr}`).toBe(0)
      expect(result.sdkEvaluated, `${name} aws-kms.js`).toBe(false)
      expect(checkOutputDir({ outputDir: out, rootPem: pemCa.certPem, serials }).problems).toEqual([])
    }
  })

  it('the copied action with a PEM key under Node 24 does not evaluate the SDK, nor need dist/aws-kms.js', async () => {
    const { file, serials } = manifest('fleet-pem-action.csv', 5)
    for (const folder of [action, actionWithoutSdk]) {
      const result = await runCopiedAction(folder, NODE24, {
        manifest: file,
        'fleet-ca-cert': pemCa.certPem,
        'fleet-ca-key': readFileSync(pemCa.keyPath, 'utf8'),
        format: 'tar',
        'output-dir': 'out'
      })
      expect(result.status, result.stderr + result.stdout).toBe(0)
      expect(result.sdkEvaluated).toBe(false)
      expect(checkOutputDir({ outputDir: path.join(result.workspace, 'out'), rootPem: pemCa.certPem, serials }).problems).toEqual([])
    }
  })

  it('without dist/aws-kms.js an awskms:// key fails naming the missing file (action: exit 1, CLI: exit 3), before any signature', async () => {
    const { file } = manifest('fleet-missing.csv', 3)
    const signsBefore = key.signs
    const result = await runCopiedAction(
      actionWithoutSdk,
      NODE24,
      { manifest: file, 'fleet-ca-cert': kmsCa.certPem, 'fleet-ca-key': `awskms://${kms.hostPort}/alias/fleet`, format: 'tar', 'output-dir': 'out' },
      awsEnv()
    )
    expect(result.status).toBe(1)
    expect(result.stdout + result.stderr).toMatch(/fleet-ca-key alias\/fleet: credbake's AWS SDK cannot be loaded .*dist\/aws-kms\.js/)
    expect(result.sdkEvaluated).toBe(false)
    expect(key.signs).toBe(signsBefore)
    const cli = await runNode(
      NODE24,
      path.join(actionWithoutSdk, 'dist/cli.js'),
      [
        'bake',
        '--manifest',
        file,
        '--fleet-ca-cert',
        kmsCa.certPath,
        '--fleet-ca-key',
        `awskms://${kms.hostPort}/alias/fleet`,
        '--format',
        'tar',
        '--output-dir',
        path.join(work, 'out-missing')
      ],
      {
        cwd: actionWithoutSdk,
        env: { HOME: work, ...awsEnv() }
      }
    )
    expect(cli.status).toBe(3)
    expect(cli.stderr).toMatch(/fleet-ca-key alias\/fleet: credbake's AWS SDK cannot be loaded .*dist\/aws-kms\.js/)
    expectNoSecret(work, result.stdout, result.stderr, cli.stdout, cli.stderr)
  })
})
