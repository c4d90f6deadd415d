// `credbake verify --manifest FILE --fleet-ca-cert TRUST [--output-dir DIR] [--json] [--concurrency N]`:
// check a bake's outputs as they are now against its review manifest (src/verify/verify.ts). Each
// failing device is printed as soon as it is checked, progress goes to stderr like the bake's.
import { EXIT_CODES, InputError } from '../errors.js'
import { throttledProgress } from '../pipeline/reporter.js'
import { verifyOutputs, type DeviceReport } from '../verify/verify.js'
import { escapeText } from '../util/log-text.js'
import type { Console } from './console.js'
import type { FlagSpec, ParsedFlags } from './flags.js'

export const VERIFY_FLAGS: FlagSpec = { command: 'verify', strings: ['manifest', 'fleet-ca-cert', 'output-dir', 'concurrency'], booleans: ['json'] }

export const VERIFY_HELP = `Usage: credbake verify --manifest FILE --fleet-ca-cert TRUST [--output-dir DIR] [--json] [--concurrency N]

Checks every device of a review manifest (credbake-manifest.json) against its output as it is
now: dir trees, .tar.gz overlays, images and partitions (compressed ones too, decompressed into
a private temporary folder). The manifest is checked against its JSON Schema first. Per device:
the output path; the output's SHA-256; each installed file's presence, size, SHA-256, mode and
owner (private keys: presence and mode, and that the key is the certificate's); the folders of
tar and dir outputs (0755, root); no file the manifest does not list, no link; the certificate
chains to TRUST (PEM, one or more CA certificates), is the one the entry describes (subject,
SAN, device ID = CN, validity, fingerprints) and was made as the header's profile and fleet CA
say. Manifest-wide: serials, certificates and serial numbers unique, the counts, and
certificates.pem, superseded.pem and SHA256SUMS holding exactly what the manifest lists.
docs/verify-checks.md lists every check and what verify cannot see.

  --manifest FILE        the credbake-manifest.json to check
  --fleet-ca-cert TRUST  CA certificate(s) the device certificates must chain to
  --output-dir DIR       where the outputs are (default: the manifest's folder)
  --json                 print a JSON report {devices:[{serial, ok, problems}], problems, passed, failed}
  --concurrency N        worker threads (default 0: one per core)

Prints one line per failing device as it is found, a line per problem of the review as a whole
("review: ..."), then a summary. Progress goes to stderr as the bake's: in a log a line every 5 s,
on a terminal one live line whose last state (count, rate, total time) stays. Exit 0 when
everything passes, 7 when any device or the review fails, 2 for a missing or malformed manifest.
`

export async function verifyCommand(parsed: ParsedFlags, out: Console): Promise<number> {
  const manifest = parsed.values.manifest
  const trust = parsed.values['fleet-ca-cert']
  if (!manifest) throw new InputError('verify needs --manifest FILE (the credbake-manifest.json of the bake)', { input: 'manifest' })
  if (!trust) throw new InputError('verify needs --fleet-ca-cert TRUST (the CA certificate the device certificates must chain to)', { input: 'fleet-ca-cert' })
  const concurrencyText = parsed.values.concurrency
  const concurrency = concurrencyText === undefined ? 0 : Number(concurrencyText)
  if (!Number.isInteger(concurrency) || concurrency < 0)
    throw new InputError(`--concurrency must be a whole number of threads, 0 for one per core (got "${concurrencyText}")`, { input: 'concurrency' })
  const json = parsed.values.json === 'true'

  const live = out.stderrIsTTY === true
  // The live line is numbers only and needs its \r as is (stderrLive), as the bake's does.
  const progress = throttledProgress(live ? (text) => (out.stderrLive ?? out.stderr)(text) : (line) => out.stderr(`${line}\n`), { live, verb: 'verified' })
  let first = true
  // The JSON report is streamed too: 100,000 devices are never held.
  const onDevice = json
    ? (device: DeviceReport): void => {
        out.stdout(`${first ? '{\n  "devices": [\n' : ',\n'}    ${JSON.stringify(device)}`)
        first = false
      }
    : (device: DeviceReport): void => {
        if (device.ok) return
        progress.end()
        out.stdout(`${device.serial}: ${device.problems.join('; ')}\n`)
      }
  const summary = await verifyOutputs({
    manifest,
    fleetCaCert: trust,
    concurrency,
    ...(parsed.values['output-dir'] ? { outputDir: parsed.values['output-dir'] } : {}),
    onDevice,
    onProgress: (done, total) => progress(done, total)
  }).finally(() => progress.end())
  if (json) {
    const problems = JSON.stringify(summary.problems)
    out.stdout(
      `${first ? '{\n  "devices": [' : '\n  '}],\n  "problems": ${problems},\n  "passed": ${summary.passed},\n  "failed": ${summary.failed}${summary.revoked.length ? `,\n  "revoked": ${JSON.stringify(summary.revoked)}` : ''}\n}\n`
    )
  } else {
    for (const problem of summary.problems) out.stdout(`review: ${problem}\n`)
    // Revoked devices are a state, not a failure: their outputs were checked like the others.
    for (const device of summary.revoked) {
      out.stdout(
        `${escapeText(device.serial)}: ${device.active ? 'revoked' : 'an earlier certificate revoked'} (${device.reason}) at ${device.revokedAt}${device.active ? '' : ', reissued since'}\n`
      )
    }
    const total = summary.devices
    const review = summary.problems.length ? `; ${summary.problems.length} problem${summary.problems.length === 1 ? '' : 's'} with the review as a whole` : ''
    out.stdout(`verified ${total} device${total === 1 ? '' : 's'}: ${summary.passed} passed, ${summary.failed} failed${review}\n`)
  }
  return summary.failed > 0 || summary.problems.length > 0 ? EXIT_CODES.verify : EXIT_CODES.ok
}
