// `credbake verify --manifest FILE --fleet-ca-cert TRUST [--output-dir DIR] [--json]`: check a bake's
// outputs as they are now against its review manifest (src/verify/verify.ts).
import { EXIT_CODES, InputError } from '../errors.js'
import { verifyOutputs } from '../verify/verify.js'
import type { Console } from './console.js'
import { parseFlags } from './flags.js'

export const VERIFY_HELP = `Usage: credbake verify --manifest FILE --fleet-ca-cert TRUST [--output-dir DIR] [--json]

Checks every device of a review manifest (credbake-manifest.json) against its output as it is
now: dir trees, .tar.gz overlays, images and partitions (compressed ones too, decompressed into
a private temporary folder). The manifest is checked against its JSON Schema first. Per device:
the output's SHA-256; each installed file's presence, size, SHA-256, mode and owner (private keys:
presence and mode, and that the key is the certificate's); no file in the credentials folder
the manifest does not list; the certificate chains to TRUST (PEM, one or more CA certificates)
and matches its manifest entry and the profile in the manifest header.

  --manifest FILE        the credbake-manifest.json to check
  --fleet-ca-cert TRUST  CA certificate(s) the device certificates must chain to
  --output-dir DIR       where the outputs are (default: the manifest's folder)
  --json                 print a JSON report {devices:[{serial, ok, problems}], passed, failed}

Prints one line per failing device, then a summary. Exit 0 when every device passes, 7 when any
fails, 2 for a missing or malformed manifest.
`

export async function verifyCommand(args: string[], out: Console): Promise<number> {
  const parsed = parseFlags(args, { strings: ['manifest', 'fleet-ca-cert', 'output-dir'], booleans: ['json'] })
  const manifest = parsed.values.manifest
  const trust = parsed.values['fleet-ca-cert']
  if (!manifest) throw new InputError('verify needs --manifest FILE (the credbake-manifest.json of the bake)', { input: 'manifest' })
  if (!trust) throw new InputError('verify needs --fleet-ca-cert TRUST (the CA certificate the device certificates must chain to)', { input: 'fleet-ca-cert' })
  const report = await verifyOutputs({ manifest, fleetCaCert: trust, ...(parsed.values['output-dir'] ? { outputDir: parsed.values['output-dir'] } : {}) })
  if (parsed.values.json === 'true') {
    out.stdout(`${JSON.stringify(report, null, 2)}\n`)
  } else {
    for (const device of report.devices) if (!device.ok) out.stdout(`${device.serial}: ${device.problems.join('; ')}\n`)
    const total = report.devices.length
    out.stdout(`verified ${total} device${total === 1 ? '' : 's'}: ${report.passed} passed, ${report.failed} failed\n`)
  }
  return report.failed > 0 ? EXIT_CODES.verify : EXIT_CODES.ok
}
