// Issue 4, item 6: secret hygiene, tested on the action (`node dist/index.js` with INPUT_* as a
// runner starts it). With a known CA key (encrypted PKCS#8) and passphrase, nothing a person or an
// artifact upload can see holds the CA key in any encoding, the passphrase or a device private key;
// the RUNNER_TEMP/credbake-* folder is 0700 (its files 0600) while the run uses it and is gone
// after a success and after a failure; device key files are 0600 in dir, tar and ext4 outputs.
import { createPrivateKey } from 'node:crypto'
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupPki, keyFormats, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { buildGptImage, cleanupScratch, debugfsCat, debugfsStat, scratchDir } from '../helpers/images.js'
import { extractTar } from '../helpers/outputs.js'
import { parseOutputs } from '../helpers/run.js'
import { makeFakeDebugfs, readJournalFile, startAction, type ChildResult } from '../helpers/faults.js'
import { checkOutputDir } from './invariants.js'

const PASSPHRASE = 'Tr0ub4dor&3 / robustness passphrase'
let ca: CaFixture
let encryptedKeyPem: string
let work: string

beforeAll(() => {
  ca = makeRootCa({ keyType: 'ec-p256', subject: '/CN=Secret Hygiene Root' })
  encryptedKeyPem = keyFormats(ca.key, { passphrase: PASSPHRASE }).encryptedPkcs8.pem
  work = mkdtempSync(path.join(os.tmpdir(), 'credbake-hygiene-'))
})
afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
  rmSync(work, { recursive: true, force: true })
})

/**
 * Every encoding of a private key that could leak: the PEM, its base64 body and each body line,
 * PKCS#8 DER as hex (both cases) and base64, the SEC1/PKCS#1 DER, and the raw private scalar.
 */
function keyForms(pem: string, passphrase?: string): string[] {
  const forms = new Set<string>([pem.trim()])
  forms.add(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''))
  for (const line of pem.split('\n')) if (line.trim().length >= 32 && !line.startsWith('-----')) forms.add(line.trim())
  const key = createPrivateKey({ key: pem, passphrase })
  const pkcs8 = key.export({ type: 'pkcs8', format: 'der' })
  forms.add(pkcs8.toString('hex')).add(pkcs8.toString('hex').toUpperCase()).add(pkcs8.toString('base64'))
  forms.add(key.export({ type: 'pkcs8', format: 'pem' }).toString().trim())
  if (key.asymmetricKeyType === 'ec' || key.asymmetricKeyType === 'rsa') {
    const traditional = key.export({ type: key.asymmetricKeyType === 'ec' ? 'sec1' : 'pkcs1', format: 'der' })
    forms.add(traditional.toString('hex')).add(traditional.toString('base64'))
  }
  const d = key.export({ format: 'jwk' }).d
  if (d) {
    const raw = Buffer.from(d, 'base64url')
    forms.add(d).add(raw.toString('hex')).add(raw.toString('hex').toUpperCase()).add(raw.toString('base64'))
  }
  return [...forms]
}

interface ActionResult extends ChildResult {
  outputsText: string
  outputs: Record<string, string>
  summary: string
  runnerTemp: string
  /** What was seen in RUNNER_TEMP while the action ran: "<mode> <relative path>" per entry. */
  observed: string[]
}

/** Run the action asynchronously and poll RUNNER_TEMP while it runs. */
async function runActionWatched(inputs: Record<string, string>, env: Record<string, string> = {}): Promise<ActionResult> {
  const dir = mkdtempSync(path.join(work, 'runner-'))
  const files = { outputFile: path.join(dir, 'github_output'), summaryFile: path.join(dir, 'step_summary'), runnerTemp: path.join(dir, 'runner_temp'), workspace: dir }
  writeFileSync(files.outputFile, '')
  writeFileSync(files.summaryFile, '')
  mkdirSync(files.runnerTemp)
  const observed = new Set<string>()
  const child = startAction(inputs, files, { env })
  let running = true
  void child.done.then(() => (running = false))
  while (running) {
    for (const name of safeReaddir(files.runnerTemp)) {
      for (const entry of [name, ...safeReaddir(path.join(files.runnerTemp, name)).map((inner) => path.join(name, inner))]) {
        try {
          const info = statSync(path.join(files.runnerTemp, entry))
          observed.add(`${(info.mode & 0o777).toString(8).padStart(4, '0')} ${info.isDirectory() ? 'dir ' : 'file'} ${entry}`)
        } catch {
          // removed meanwhile
        }
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  const result = await child.done
  const outputsText = readFileSync(files.outputFile, 'utf8')
  return { ...result, outputsText, outputs: parseOutputs(outputsText), summary: readFileSync(files.summaryFile, 'utf8'), runnerTemp: files.runnerTemp, observed: [...observed] }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' })
  } catch {
    return []
  }
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .map((name) => path.join(dir, name))
    .filter((file) => statSync(file).isFile())
}

/** Which forbidden strings occur in which visible text (names only, never the secret itself). */
function leaks(visible: Array<[string, string]>, forbidden: Array<[string, string]>): string[] {
  const found: string[] = []
  for (const [where, text] of visible) for (const [what, secret] of forbidden) if (text.includes(secret)) found.push(`${what} in ${where}`)
  return found
}

function caForbidden(): Array<[string, string]> {
  return [
    ...keyForms(ca.keyPem).map((form, i): [string, string] => [`fleet CA key (form ${i})`, form]),
    ...keyForms(encryptedKeyPem, PASSPHRASE)
      .slice(0, 3)
      .map((form, i): [string, string] => [`encrypted fleet CA key (form ${i})`, form]),
    ['passphrase', PASSPHRASE]
  ]
}

function logs(run: ActionResult): Array<[string, string]> {
  return [
    // The runner consumes ::add-mask:: commands and never shows them.
    [
      'stdout',
      run.stdout
        .split('\n')
        .filter((line) => !line.startsWith('::add-mask::'))
        .join('\n')
    ],
    ['stderr', run.stderr],
    ['GITHUB_OUTPUT', run.outputsText],
    ['job summary', run.summary]
  ]
}

function baseInputs(out: string, manifest: string): Record<string, string> {
  return {
    manifest,
    'fleet-ca-cert': ca.certPem,
    'fleet-ca-key': encryptedKeyPem,
    'fleet-ca-key-passphrase': PASSPHRASE,
    'gateway-url': 'https://gw.example.com:8443',
    'output-dir': out
  }
}

function expectTempFolderClean(run: ActionResult): void {
  expect(readdirSync(run.runnerTemp), 'RUNNER_TEMP after the run').toEqual([])
}

function expectTempModes(observed: string[]): void {
  const credbake = observed.filter((line) => / credbake-/.test(line))
  expect(credbake.length, 'the credbake-* temp folder was seen while the action ran').toBeGreaterThan(0)
  // Folders 0700, files 0600 (design: "temp files only under RUNNER_TEMP (0700 dir, 0600 files)").
  const wrong = credbake.filter((line) => !(line.includes(' dir ') ? /^0700 / : /^0600 /).test(line))
  expect.soft(wrong, 'temp entries with other modes than 0700 (folders) / 0600 (files)').toEqual([])
}

describe('secret hygiene of the action', () => {
  it('format dir: no secret in logs, outputs, summary, manifest, journal or any non-key file; temp folder 0700 and removed; keys 0600', async () => {
    const manifest = path.join(work, 'dir.csv')
    writeFileSync(manifest, `serial\n${Array.from({ length: 60 }, (_, i) => `HD-${i}`).join('\n')}\n`)
    const out = path.join(work, 'out-dir')
    const run = await runActionWatched({ ...baseInputs(out, manifest), format: 'dir' })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    expect(run.stdout.split('\n')).toContain(`::add-mask::${PASSPHRASE}`)
    expectTempModes(run.observed)
    expectTempFolderClean(run)

    const keyFiles = filesUnder(out).filter((file) => file.endsWith(`${path.sep}pkey.pem`))
    expect(keyFiles).toHaveLength(60)
    for (const file of keyFiles) expect((statSync(file).mode & 0o777).toString(8), file).toBe('600')
    const forbidden = [
      ...caForbidden(),
      ...keyFiles.flatMap((file) =>
        keyForms(readFileSync(file, 'utf8')).map((form): [string, string] => [`device key ${path.basename(path.dirname(path.dirname(path.dirname(path.dirname(file)))))}`, form])
      )
    ]
    const visible: Array<[string, string]> = [
      ...logs(run),
      ...filesUnder(out)
        .filter((file) => !keyFiles.includes(file))
        .map((file): [string, string] => [path.relative(out, file), readFileSync(file, 'latin1')])
    ]
    expect(visible.map(([where]) => where)).toEqual(expect.arrayContaining(['credbake-manifest.json', 'credbake-journal.jsonl', 'certificates.pem', 'superseded.pem']))
    expect(leaks(visible, forbidden)).toEqual([])
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials: Array.from({ length: 60 }, (_, i) => `HD-${i}`) }).problems).toEqual([])
  })

  it('format tar: nothing secret outside the pkey.pem entries (looked for inside the archives too); key entries 0600', async () => {
    const manifest = path.join(work, 'tar.csv')
    const serials = Array.from({ length: 200 }, (_, i) => `HT-${i}`)
    writeFileSync(manifest, `serial\n${serials.join('\n')}\n`)
    const out = path.join(work, 'out-tar')
    const run = await runActionWatched({ ...baseInputs(out, manifest), format: 'tar' })
    expect(run.status, run.stdout + run.stderr).toBe(0)
    expectTempModes(run.observed)
    expectTempFolderClean(run)

    const visible: Array<[string, string]> = [...logs(run)]
    const deviceKeys: Array<[string, string]> = []
    for (const file of filesUnder(out)) {
      if (!file.endsWith('.tar.gz')) {
        visible.push([path.relative(out, file), readFileSync(file, 'latin1')])
        continue
      }
      // Only a handful through GNU tar (the reference); the rest are covered by checkOutputDir.
      if (!/HT-(0|1|199)\.tar\.gz$/.test(file)) continue
      for (const entry of extractTar(file)) {
        if (entry.name.endsWith('/pkey.pem')) {
          expect(entry.mode, `${file}: ${entry.name}`).toBe(0o600)
          expect(`${entry.uid}:${entry.gid}`).toBe('0:0')
          deviceKeys.push(...keyForms(entry.content.toString('utf8')).map((form): [string, string] => [`device key in ${path.basename(file)}`, form]))
        } else if (entry.type === 'file') {
          visible.push([`${path.basename(file)}:${entry.name}`, entry.content.toString('latin1')])
        }
      }
    }
    expect(deviceKeys.length).toBeGreaterThan(0)
    expect(leaks(visible, [...caForbidden(), ...deviceKeys])).toEqual([])
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials }).problems).toEqual([])
  })

  // The per-device images hold their device's key by design, so here the manifest, journal,
  // certificates.pem, superseded.pem, logs, outputs and summary are searched, not the images.
  it('format image: logs, outputs, summary, manifest, journal and PEM bundles hold no secret; temp files 0600 in a 0700 folder while debugfs reads them; ext4 key files 0600 0:0', async () => {
    const dir = await scratchDir('credbake-hygiene-img-')
    const image = await buildGptImage(dir)
    const serials = ['HI-1', 'HI-2', 'HI-3']
    const manifest = path.join(work, 'image.csv')
    writeFileSync(manifest, `serial\n${serials.join('\n')}\n`)
    const out = path.join(work, 'out-image')
    // A slow debugfs, so the polling sees the key files in the temp folder while they exist.
    const fake = makeFakeDebugfs(path.join(dir, 'fake'), { mode: 'sleep', sleepMs: 150 })
    const run = await runActionWatched({ ...baseInputs(out, manifest), image: image.path, partition: 'label=rootfs' }, fake.env)
    expect(run.status, run.stdout + run.stderr).toBe(0)
    expectTempModes(run.observed)
    expectTempFolderClean(run)

    const rootfs = image.part('rootfs')
    const deviceKeys: Array<[string, string]> = []
    for (const serial of serials) {
      const file = path.join(out, 'images', `${serial}.img`)
      const stat = debugfsStat(file, rootfs.start, '/var/sota/import/pkey.pem')
      expect(stat, `${serial}: pkey.pem`).toMatchObject({ type: 'regular', mode: '0600', uid: 0, gid: 0 })
      const key = debugfsCat(file, rootfs.start, '/var/sota/import/pkey.pem').toString('utf8')
      deviceKeys.push(...keyForms(key).map((form): [string, string] => [`device key of ${serial}`, form]))
    }
    const visible: Array<[string, string]> = [
      ...logs(run),
      ...filesUnder(out)
        .filter((file) => !file.endsWith('.img'))
        .map((file): [string, string] => [path.relative(out, file), readFileSync(file, 'latin1')])
    ]
    expect(leaks(visible, [...caForbidden(), ...deviceKeys])).toEqual([])
    expect(checkOutputDir({ outputDir: out, rootPem: ca.certPem, serials }).problems).toEqual([])
  })

  it('while debugfs reads the key files, they are 0600 in a 0700 folder of RUNNER_TEMP owned by the runner user', async () => {
    const dir = await scratchDir('credbake-hygiene-snap-')
    const image = await buildGptImage(dir)
    const manifest = path.join(work, 'snap.csv')
    writeFileSync(manifest, 'serial\nHS-1\nHS-2\n')
    const out = path.join(work, 'out-snap')
    const runner = mkdtempSync(path.join(work, 'snap-runner-'))
    const runnerTemp = path.join(runner, 'runner_temp')
    mkdirSync(runnerTemp)
    const fake = makeFakeDebugfs(path.join(dir, 'fake'), { mode: 'sleep', sleepMs: 0, snapshot: runnerTemp })
    const files = { outputFile: path.join(runner, 'out'), summaryFile: path.join(runner, 'summary'), runnerTemp, workspace: runner }
    writeFileSync(files.outputFile, '')
    writeFileSync(files.summaryFile, '')
    const result = await startAction({ ...baseInputs(out, manifest), image: image.path, partition: 'label=rootfs' }, files, { env: fake.env }).done
    expect(result.status, result.stdout + result.stderr).toBe(0)
    const snapshots = fake.snapshots()
    expect(snapshots).toHaveLength(2)
    const user = os.userInfo().username
    for (const snapshot of snapshots) {
      const lines = snapshot
        .trim()
        .split('\n')
        .filter((line) => line.includes(`${runnerTemp}/credbake-`))
      // The folder, its debugfs-* work folder, the content files (client.pem, pkey.pem, ...) and the script.
      expect(lines.length, snapshot).toBeGreaterThanOrEqual(5)
      for (const line of lines) {
        const [mode, owner, type, file] = line.split(' ') as [string, string, string, string]
        expect(owner, file).toBe(user)
        expect(mode, `${file} (${type === 'd' ? 'folder' : 'file'})`).toBe(type === 'd' ? '700' : '600')
      }
    }
    expect(readdirSync(runnerTemp)).toEqual([])
  })

  it('after a failure mid-run (debugfs crashes on the 2nd device) the temp folder is gone and nothing secret was printed', async () => {
    const dir = await scratchDir('credbake-hygiene-fail-')
    const image = await buildGptImage(dir)
    const manifest = path.join(work, 'fail.csv')
    writeFileSync(manifest, 'serial\nHF-1\nHF-2\nHF-3\n')
    const out = path.join(work, 'out-fail')
    const fake = makeFakeDebugfs(path.join(dir, 'fake'), { mode: 'segv', failAt: 2 })
    const run = await runActionWatched({ ...baseInputs(out, manifest), image: image.path, partition: 'label=rootfs' }, fake.env)
    expect(run.status).toBe(1)
    expect(run.stdout).toMatch(/::error::.*HF-2/)
    expectTempModes(run.observed)
    expectTempFolderClean(run)
    const visible: Array<[string, string]> = [
      ...logs(run),
      ...filesUnder(out)
        .filter((file) => !file.endsWith('.img'))
        .map((file): [string, string] => [path.relative(out, file), readFileSync(file, 'latin1')])
    ]
    expect(leaks(visible, caForbidden())).toEqual([])
    expect(
      readJournalFile(out)
        .records.filter((r) => r.type === 'issued')
        .map((r) => (r as { serial: string }).serial)
    ).toEqual(['HF-1', 'HF-2'])
  })

  it('after a failure before any device (resume refused) the temp folder is gone too', async () => {
    const manifest = path.join(work, 'refused.csv')
    writeFileSync(manifest, 'serial\nHR-1\n')
    const out = path.join(work, 'out-refused')
    const first = await runActionWatched({ ...baseInputs(out, manifest), format: 'tar' })
    expect(first.status, first.stdout).toBe(0)
    const refused = await runActionWatched({ ...baseInputs(out, manifest), format: 'tar', resume: 'false' })
    expect(refused.status).toBe(1)
    expect(refused.stdout).toMatch(/::error::.*output-dir/)
    expectTempFolderClean(refused)
    expect(leaks(logs(refused), caForbidden())).toEqual([])
  })
})
