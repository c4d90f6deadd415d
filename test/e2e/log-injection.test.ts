// Logs cannot be hijacked: a base image whose GPT partition names and ext4 label carry workflow
// commands (each form a runner reads: "::" after a line break of any kind, the legacy "##[", after
// white space, behind a bidi override), a manifest value and a manifest file name that carry them,
// printed by inspect, bake and the action. A runner-side parser (test/helpers/runner-commands.ts)
// reads everything printed: the CLI gives no command at all; the action gives only its own
// (error, warning, add-mask of the key), and their data hold the payloads escaped.
import { existsSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { cleanupScratch, makeFileSystem, MiB, nodeNumber, placeAt, run, scratchDir, sfdiskJson } from '../helpers/images.js'
import { cleanupPki, makeRootCa, type CaFixture } from '../helpers/pki.js'
import { runAction, runCli } from '../helpers/run.js'
import { runnerCommands, type RunnerCommand } from '../helpers/runner-commands.js'

/** GPT names (up to 36 UTF-16 units): one payload per partition. */
const NAME_PAYLOADS = [
  'x\n::error::pwned-01',
  '\n::add-mask::pwned-02',
  '\n::stop-commands::pwned-03',
  '\r::warning::pwned-04',
  '\u0085::notice::pwned-05',
  '\u2028::debug::pwned-06',
  '##[error]pwned-07',
  'a ##[add-mask]pwned-08',
  '\n\t ::set-output name=x::pwned-09',
  '\n\u00a0::group::pwned-10',
  '\n\u202e::error::pwned-11',
  '\n::echo::on pwned-12'
]
/** An ext4 label holds 16 bytes. */
const LABEL_PAYLOAD = '\n::error::pwn13'

let work: string
let image: string
let rootNumber: number
let ca: CaFixture

beforeAll(async () => {
  ca = makeRootCa({ keyType: 'ec-p256' })
  work = await scratchDir('credbake-e2e-logs-')
  image = path.join(work, 'labels.img')
  writeFileSync(image, '')
  truncateSync(image, (NAME_PAYLOADS.length + 20) * MiB)
  const script = ['label: gpt', ...NAME_PAYLOADS.map((_, i) => `size=1MiB, type=L, name=p${i + 1}`), 'size=16MiB, type=L, name=rootfs', ''].join('\n')
  run('sfdisk', ['-q', image], { input: script })
  // sfdisk's script syntax has no escapes; --part-label takes the name as one argument.
  NAME_PAYLOADS.forEach((payload, i) => run('sfdisk', ['-q', '--part-label', image, String(i + 1), payload]))
  const root = sfdiskJson(image).partitions.at(-1)!
  rootNumber = nodeNumber(root.node)
  const fs = path.join(work, 'root.ext4')
  makeFileSystem(fs, { fs: 'ext4', size: 16 * MiB, label: 'rootfs' })
  run('e2label', [fs, LABEL_PAYLOAD])
  placeAt(image, root.start * 512, fs)
})
afterAll(async () => {
  cleanupPki()
  await cleanupScratch()
})

/** The CLI printed no workflow command at all, and no raw control or format character. */
function expectNoCommands(output: string): void {
  expect(runnerCommands(output), output).toEqual([])
  expect(output).not.toMatch(/[\r\u0085\u2028\u202e]/)
}

/** The action gave only its own commands, and none of their data can itself be read as one. */
function expectOnlyOwnCommands(output: string, secrets: string[]): RunnerCommand[] {
  const commands = runnerCommands(output)
  for (const command of commands) {
    expect(command.syntax, command.line).toBe('v2')
    // save-state: the main step's notes for its post step (on stdout when the runner gives no GITHUB_STATE file).
    expect(['error', 'warning', 'add-mask', 'save-state'], command.line).toContain(command.name)
    if (command.name === 'add-mask')
      expect(
        secrets.some((secret) => secret.includes(command.data.split('\n')[0] ?? '')),
        command.line
      ).toBe(true)
    else if (command.name === 'save-state') expect(command.data, command.line).not.toMatch(/pwn/)
    else expect(runnerCommands(command.data), command.line).toEqual([])
  }
  // Everything that is not one of those lines is plain log text.
  expect(
    output
      .split('\n')
      .filter((line) => /pwn/.test(line) && !commands.some((c) => c.line === line))
      .every((line) => !/^\s*::/.test(line))
  ).toBe(true)
  return commands
}

describe('labels and GPT names from a base image', () => {
  it('inspect prints each escaped, in a table that keeps its rows, and no command', () => {
    const result = runCli(['inspect', image])
    expect(result.status, result.stderr).toBe(0)
    expectNoCommands(result.stdout + result.stderr)
    const rows = result.stdout.split('\n').filter((line) => /^\s*\d+\s/.test(line))
    expect(rows).toHaveLength(NAME_PAYLOADS.length + 1)
    expect(result.stdout).toContain('x\\n::error::pwned-01')
    expect(result.stdout).toContain('\\u0085::notice::pwned-05')
    expect(result.stdout).toContain('\\u202e::error::pwned-11')
    expect(result.stdout).toContain('##\\u005berror]pwned-07')
    expect(result.stdout).toContain('\\n::error::pwn13')
  })

  it('inspect --json keeps the exact names and label, as valid JSON, and no command', () => {
    const result = runCli(['inspect', '--json', image])
    expect(result.status, result.stderr).toBe(0)
    expectNoCommands(result.stdout + result.stderr)
    const layout = JSON.parse(result.stdout) as { partitions: Array<{ name: string | null; fileSystem: { label: string | null } }> }
    expect(layout.partitions.slice(0, NAME_PAYLOADS.length).map((p) => p.name)).toEqual(NAME_PAYLOADS)
    expect(layout.partitions.at(-1)?.fileSystem.label).toBe(LABEL_PAYLOAD)
  })

  it('a CLI bake into the labelled partition prints it on one line, escaped', () => {
    const manifest = path.join(work, 'one.csv')
    writeFileSync(manifest, 'serial\nL-1\n')
    const out = path.join(work, 'out-cli')
    const result = runCli([
      'bake',
      '--manifest',
      manifest,
      '--fleet-ca-cert',
      ca.certPath,
      '--fleet-ca-key',
      ca.keyPath,
      '--image',
      image,
      '--partition',
      String(rootNumber),
      '--output-dir',
      out
    ])
    expect(result.status, result.stderr).toBe(0)
    expectNoCommands(result.stdout + result.stderr)
    expect(result.stderr).toMatch(/writing into partition \d+ \(rootfs, \\n::error::pwn13\)/)
  })

  it('the action: its bake log, and its error listing every partition, give only its own commands', () => {
    const manifest = path.join(work, 'two.csv')
    writeFileSync(manifest, 'serial\nL-2\n')
    const inputs = { manifest, 'fleet-ca-cert': ca.certPem, 'fleet-ca-key': ca.keyPem, image, partition: String(rootNumber), 'output-dir': path.join(work, 'out-action') }
    const ok = runAction(inputs)
    expect(ok.status, ok.stdout).toBe(0)
    expectOnlyOwnCommands(ok.stdout + ok.stderr, [ca.keyPem])
    expect(ok.stdout).toMatch(/writing into partition \d+ \(rootfs, \\n::error::pwn13\)/)

    // No such partition: the error lists the table, names and label included.
    const refused = runAction({ ...inputs, partition: 'name=nope', 'output-dir': path.join(work, 'out-refused') })
    expect(refused.status).toBe(1)
    const commands = expectOnlyOwnCommands(refused.stdout + refused.stderr, [ca.keyPem])
    const error = commands.find((command) => command.name === 'error')
    expect(error?.data).toMatch(/name=nope/)
    expect(error?.data).toContain('##\\u005badd-mask]pwned-08')
  })
})

describe('manifest values and file names', () => {
  it('a value with a command is refused, shown escaped, through the CLI and the action', () => {
    const manifest = path.join(work, 'values.csv')
    writeFileSync(manifest, 'serial,site\nV-1,"Berlin\n::add-mask::pwned-20"\n')
    const args = [
      'bake',
      '--manifest',
      manifest,
      '--fleet-ca-cert',
      ca.certPath,
      '--fleet-ca-key',
      ca.keyPath,
      '--subject',
      'CN={device-id},O={site}',
      '--output-dir',
      path.join(work, 'out-values')
    ]
    const cli = runCli(args)
    expect(cli.status).toBe(2)
    expectNoCommands(cli.stdout + cli.stderr)
    expect(cli.stderr).toContain('values.csv:2: field "site": value "Berlin\\n::add-mask::pwned-20" contains a control character (U+000A)')

    const action = runAction({
      manifest,
      'fleet-ca-cert': ca.certPem,
      'fleet-ca-key': ca.keyPem,
      subject: 'CN={device-id},O={site}',
      'output-dir': path.join(work, 'out-values-action')
    })
    expect(action.status).toBe(1)
    const commands = expectOnlyOwnCommands(action.stdout + action.stderr, [ca.keyPem])
    expect(commands.filter((command) => command.name === 'add-mask' && command.data.includes('pwned'))).toEqual([])
  })

  it('a manifest file name with a command is escaped wherever it is printed', () => {
    const dir = path.join(work, 'names')
    mkdirSync(dir, { recursive: true })
    const manifest = path.join(dir, 'm\n::error::pwned-21.csv')
    writeFileSync(manifest, 'serial\nbad serial\n')
    const cli = runCli(['bake', '--manifest', manifest, '--fleet-ca-cert', ca.certPath, '--fleet-ca-key', ca.keyPath, '--output-dir', path.join(work, 'out-names')])
    expect(cli.status).toBe(2)
    expectNoCommands(cli.stdout + cli.stderr)
    expect(cli.stderr).toContain('m\\n::error::pwned-21.csv:2: serial "bad serial" contains space')
    expect(existsSync(path.join(work, 'out-names', 'credbake-manifest.json'))).toBe(false)
  })
})
