// `credbake demo`: a throwaway fleet CA, a sample manifest and a sample image, then a real bake
// into per-device images. Everything lands in one folder; nothing here is fit for production.
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { buildSampleImage } from '../demo/sample-image.js'
import { createThrowawayCa } from '../demo/throwaway-ca.js'
import { EXIT_CODES, InputError } from '../errors.js'
import { bake } from '../pipeline/bake.js'
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
  const usesImage = format === 'image' || format === 'partition'
  if (usesImage) {
    out.stderr('building the sample image (64 MiB GPT: FAT boot + ext4 rootfs)…\n')
    await buildSampleImage(path.join(dir, 'sample.img'), dir)
  }

  const settings = parseSettings(
    {
      manifest: 'devices.csv',
      'fleet-ca-cert': 'fleet-ca.pem',
      'fleet-ca-key': 'fleet-ca.key',
      'server-ca': 'fleet-ca.pem',
      'gateway-url': 'https://gateway.demo.invalid:8443',
      subject: 'CN={device-id},OU={region},O=credbake demo',
      format,
      ...(usesImage ? { image: 'sample.img', partition: 'label=rootfs' } : {}),
      'output-dir': 'out'
    },
    { baseDir: dir }
  )
  const result = await bake(settings, cliReporter(out))
  printResult(result, out)
  const shown = path.relative(process.cwd(), result.manifestPath)
  out.stdout(`\nDemo done. Open ${shown.startsWith('..') ? result.manifestPath : shown} to review what was baked.\n`)
  return EXIT_CODES.ok
}
