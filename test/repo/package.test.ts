// The npm package installs anywhere Node runs: `npm pack`, then `npm install ./credbake-X.tgz` in an
// empty project on a machine without a C/C++ compiler (CC, CXX and node-gyp are /bin/false, so
// any install step that compiles fails), and the installed `credbake` runs: --version, demo, bake
// and verify. Everything is bundled into dist/ and the two native addons ship prebuilt in
// dist/native, so the package has no runtime dependency to fetch or build; a bake with the fleet CA
// key on a SoftHSM2 token proves the PKCS#11 addon loads from the installed package.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { VERSION } from '../../src/version.js'
import { cleanupPki } from '../helpers/pki.js'
import { NODE24, ROOT } from '../helpers/run.js'
import { generateTokenKey, makeToken, makeTokenRootCa, SOFTHSM_MODULE } from '../signer/softhsm.js'

let work: string
let project: string
let installed: string
let tarball: string

/**
 * The environment of every npm and credbake child: no compiler, a private npm cache, and none of
 * the npm_* variables `npm test` sets for this repository (npm_config_local_prefix would point a
 * child npm at it).
 */
function noCompilerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) && name !== 'INIT_CWD') env[name] = value
  }
  return {
    ...env,
    CC: '/bin/false',
    CXX: '/bin/false',
    npm_config_node_gyp: '/bin/false',
    npm_config_cache: path.join(work, 'npm-cache'),
    npm_config_update_notifier: 'false',
    npm_config_audit: 'false',
    npm_config_fund: 'false'
  }
}

function run(command: string, args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): SpawnSyncReturns<string> {
  return spawnSync(command, args, { cwd: opts.cwd ?? project, env: { ...noCompilerEnv(), ...opts.env }, encoding: 'utf8', maxBuffer: 64 << 20 })
}

function explain(result: SpawnSyncReturns<string>): string {
  return `exit ${result.status}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`
}

/** Every symbolic link under `dir` whose target does not exist. */
function danglingLinks(dir: string): string[] {
  const found: string[] = []
  for (const entry of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = path.join(entry.parentPath, entry.name)
    if (!lstatSync(full).isSymbolicLink()) continue
    try {
      realpathSync(full)
    } catch {
      found.push(path.relative(dir, full))
    }
  }
  return found
}

beforeAll(() => {
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-package-'))
  project = path.join(work, 'project')
  mkdirSync(project)
  const pack = run('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT })
  expect(pack.status, explain(pack)).toBe(0)
  const [packed] = JSON.parse(pack.stdout) as Array<{ filename: string }>
  tarball = path.join(work, packed!.filename)
  writeFileSync(path.join(project, 'package.json'), `${JSON.stringify({ name: 'adopter', version: '1.0.0', private: true }, null, 2)}\n`)
  const install = run('npm', ['install', tarball])
  expect(install.status, `npm install of the packed tarball failed without a compiler:\n${explain(install)}`).toBe(0)
  installed = path.join(project, 'node_modules/credbake')
}, 300_000)

afterAll(() => {
  cleanupPki()
  rmSync(work, { recursive: true, force: true })
})

describe('the packed npm package, installed where there is no compiler', () => {
  it('declares no runtime dependency: everything it runs is in dist/', () => {
    const manifest = JSON.parse(readFileSync(path.join(installed, 'package.json'), 'utf8')) as Record<string, unknown>
    expect(manifest.version).toBe(VERSION)
    for (const field of ['dependencies', 'optionalDependencies', 'peerDependencies', 'bundleDependencies', 'gypfile']) {
      expect(manifest[field], `package.json ${field}`).toBeUndefined()
    }
    const scripts = (manifest.scripts ?? {}) as Record<string, string>
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(scripts[hook], `scripts.${hook}`).toBeUndefined()
    expect(existsSync(path.join(installed, 'binding.gyp'))).toBe(false)
    expect(existsSync(path.join(installed, 'node_modules'))).toBe(false)
  })

  it('leaves nothing dangling and builds nothing: the only native code is what dist/native ships', () => {
    const nodeModules = path.join(project, 'node_modules')
    expect(danglingLinks(nodeModules)).toEqual([])
    const addons = readdirSync(nodeModules, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile() && entry.name.endsWith('.node'))
      .map((entry) => path.relative(nodeModules, path.join(entry.parentPath, entry.name)))
      .sort()
    const shipped = process.platform === 'linux' && process.arch === 'x64' ? ['credbake/dist/native/linux-x64/fsmap.node', 'credbake/dist/native/linux-x64/pkcs11.node'] : []
    expect(addons).toEqual(shipped)
  })

  it('runs `npx credbake --version`, under Node 24 too', () => {
    const result = run('npx', ['--no-install', 'credbake', '--version'])
    expect(result.status, explain(result)).toBe(0)
    expect(result.stdout.trim()).toBe(VERSION)
    const node24 = spawnSync(NODE24, [path.join(project, 'node_modules/.bin/credbake'), '--version'], { cwd: project, encoding: 'utf8' })
    expect(node24.stdout.trim(), explain(node24)).toBe(VERSION)
  })

  it('runs the demo (an image bake) and verifies its outputs', () => {
    const demo = run('npx', ['--no-install', 'credbake', 'demo', '--dir', 'demo', '--devices', '3'])
    expect(demo.status, explain(demo)).toBe(0)
    const manifest = path.join(project, 'demo/out/credbake-manifest.json')
    const review = JSON.parse(readFileSync(manifest, 'utf8')) as { devices: unknown[] }
    expect(review.devices).toHaveLength(3)
    const verify = run('npx', ['--no-install', 'credbake', 'verify', '--manifest', manifest, '--fleet-ca-cert', 'demo/fleet-ca.pem'])
    expect(verify.status, explain(verify)).toBe(0)
    expect(verify.stdout).toContain('3 passed, 0 failed')
  })

  it.runIf(process.platform === 'linux' && process.arch === 'x64')('bakes with the fleet CA key on a PKCS#11 token (the addon from the installed dist/native) and verifies', () => {
    const token = makeToken({ pin: '4711-package' })
    generateTokenKey(token, { id: '01', label: 'fleet-ca' })
    const ca = makeTokenRootCa(token, { object: 'fleet-ca' })
    writeFileSync(path.join(project, 'devices.csv'), 'serial,device-id\nPKG-1,\nPKG-2,pkg-device-2\n')
    const flags = {
      manifest: 'devices.csv',
      'fleet-ca-cert': ca.certPath,
      'fleet-ca-key': 'pkcs11:token=fleet;object=fleet-ca',
      'pkcs11-module': SOFTHSM_MODULE,
      format: 'tar',
      'output-dir': 'hsm-out'
    }
    const argv = Object.entries(flags).flatMap(([name, value]) => [`--${name}`, value])
    const bake = run('npx', ['--no-install', 'credbake', 'bake', ...argv], { env: { ...token.env, CREDBAKE_FLEET_CA_KEY_PASSPHRASE: token.pin } })
    expect(bake.status, explain(bake)).toBe(0)
    const verify = run('npx', ['--no-install', 'credbake', 'verify', '--manifest', 'hsm-out/credbake-manifest.json', '--fleet-ca-cert', ca.certPath])
    expect(verify.status, explain(verify)).toBe(0)
    expect(verify.stdout).toContain('2 passed, 0 failed')
  })
})
