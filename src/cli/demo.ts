// `credbake demo`: a throwaway fleet CA, a sample manifest and a sample image, then a real bake
// into per-device images. Everything lands in one folder; nothing here is fit for production.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { buildSampleImage } from '../demo/sample-image.js'
import { createThrowawayCa } from '../demo/throwaway-ca.js'
import { EXIT_CODES, InputError } from '../errors.js'
import { findFormat, outputFormat } from '../formats/registry.js'
import { bake, type BakeResult } from '../pipeline/bake.js'
import { shellQuote } from '../review/summary.js'
import { parseSettings } from '../settings/parse.js'
import { cliReporter, printResult } from './bake.js'
import type { Console } from './console.js'
import type { FlagSpec, ParsedFlags } from './flags.js'

export const DEMO_FLAGS: FlagSpec = { command: 'demo', strings: ['dir', 'devices', 'format'] }

export const DEMO_HELP = `Usage: credbake demo [--dir DIR] [--devices N] [--format image|partition|tar|dir]

Runs the whole job on made-up data: creates a throwaway fleet CA (NOT FOR PRODUCTION), a sample
device manifest of N devices (default 4) and a 64 MiB sample firmware image (GPT: FAT "boot",
ext4 "rootfs"), then bakes one image per device. Everything goes to DIR (default credbake-demo):
  DIR/fleet-ca.pem, DIR/fleet-ca.key   the throwaway CA
  DIR/devices.csv                      the sample manifest
  DIR/sample.img                       the sample base image
  DIR/out/                             the outputs and credbake-manifest.json
At the end it prints the bake command it ran, to copy and run again, and the next steps: verify
the outputs, look inside one with inspect --files, read the review manifest.
Needs e2fsprogs, dosfstools, fdisk and mtools (apt-get install -y e2fsprogs dosfstools fdisk mtools).
`

/** Marks a folder as the demo's own, so that a later demo may clear it and nothing else. */
const DEMO_MARKER = '.credbake-demo'

async function prepareDemoDir(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[])
  if (names.length > 0 && !names.includes(DEMO_MARKER)) {
    throw new InputError(`credbake demo clears its folder, and ${dir} holds files that are not from an earlier demo: choose an empty or new folder with --dir.`, {
      input: 'dir'
    })
  }
  await rm(dir, { recursive: true, force: true })
  await mkdir(dir, { recursive: true })
  await writeFile(path.join(dir, DEMO_MARKER), 'Made by credbake demo: throwaway data, removed by the next demo run.\n')
}

export async function demoCommand({ values }: ParsedFlags, out: Console): Promise<number> {
  const dir = path.resolve(values.dir ?? 'credbake-demo')
  const count = Number(values.devices ?? '4')
  if (!Number.isInteger(count) || count < 1 || count > 10_000) {
    out.stderr('credbake demo: --devices must be a whole number from 1 to 10000\n')
    return EXIT_CODES.input
  }
  const format = values.format ?? 'image'
  out.stderr('credbake demo: THROWAWAY CA AND SAMPLE DATA, NOT FOR PRODUCTION\n')
  await prepareDemoDir(dir)

  const ca = createThrowawayCa()
  await writeFile(path.join(dir, 'fleet-ca.pem'), ca.certificatePem)
  await writeFile(path.join(dir, 'fleet-ca.key'), ca.keyPem, { mode: 0o600 })
  const rows = Array.from({ length: count }, (_, i) => {
    const n = String(i + 1).padStart(4, '0')
    return `DEMO-${n},demo-device-${n},${i % 2 ? 'us' : 'eu'}`
  })
  await writeFile(path.join(dir, 'devices.csv'), ['serial,device-id,region', ...rows, ''].join('\n'))
  const usesImage = findFormat(format)?.takesImage === true
  if (usesImage) {
    out.stderr('building the sample image (64 MiB GPT: FAT boot + ext4 rootfs)…\n')
    await buildSampleImage(path.join(dir, 'sample.img'), dir)
  }

  // The bake's options, once: what it runs with, and what it prints for the user to run again.
  const options: Record<string, string> = {
    manifest: 'devices.csv',
    'fleet-ca-cert': 'fleet-ca.pem',
    'fleet-ca-key': 'fleet-ca.key',
    'server-ca': 'fleet-ca.pem',
    'gateway-url': 'https://gateway.demo.invalid:8443',
    subject: 'CN={device-id},OU={region},O=credbake demo',
    format,
    ...(usesImage ? { image: 'sample.img', partition: 'label=rootfs' } : {}),
    'output-dir': 'out'
  }
  const settings = parseSettings(options, { baseDir: dir })
  const reporter = cliReporter(out)
  const result = await bake(settings, reporter).finally(() => reporter.end())
  printResult(result, out)
  out.stdout(nextSteps(dir, options, result))
  return EXIT_CODES.ok
}

/** Options that are paths (relative to the demo folder in `options`). */
const PATH_OPTIONS = new Set(['manifest', 'fleet-ca-cert', 'fleet-ca-key', 'server-ca', 'image', 'output-dir'])

/**
 * How the user started credbake, to print commands they can run the same way: `npx --no-install
 * credbake` when it runs from an installed package, else `node PATH/cli.js` (a clone: npm run demo).
 */
function selfCommand(): string {
  const script = process.argv[1] ?? ''
  if (script === '' || script.split(path.sep).includes('node_modules')) return 'npx --no-install credbake'
  return `node ${shellQuote(shownPath(script))}`
}

/** A path as typed from the current folder. */
function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file)
  return relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? file : relative
}

/** The bake command the demo ran, as one copyable line, and what to look at next. */
function nextSteps(dir: string, options: Record<string, string>, result: BakeResult): string {
  const self = selfCommand()
  const at = (file: string): string => shellQuote(shownPath(path.resolve(dir, file)))
  const flags = Object.entries(options).map(([name, value]) => `--${name} ${PATH_OPTIONS.has(name) ? at(value) : shellQuote(value)}`)
  const first = result.firstDevices[0]
  const output = first ? path.join(options['output-dir'] as string, first.output.path) : undefined
  const look = output === undefined ? [] : outputFormat(options.format as string).lookInside(at(output), self, options.partition)
  return [
    '',
    'Demo done. The bake it ran (run it again to see a resume keep every device):',
    `  ${self} bake ${flags.join(' ')}`,
    '',
    'Next steps:',
    '  Check every output against the review manifest (exit 0 when all pass):',
    `    ${self} verify --manifest ${at(path.join(options['output-dir'] as string, 'credbake-manifest.json'))} --fleet-ca-cert ${at(options['fleet-ca-cert'] as string)}`,
    ...look,
    `  Read the review manifest, what a reviewer signs off: ${at(path.join(options['output-dir'] as string, 'credbake-manifest.json'))}`,
    `  (certificates.pem beside it holds each device's certificate; ${self} --help for every command)`,
    ''
  ].join('\n')
}
