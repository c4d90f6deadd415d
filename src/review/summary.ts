// The job summary: what a reviewer sees on the run page. HTML, because GitHub renders it and
// core.summary does no escaping of its own: every value goes through escapeHtml, which also
// escapes control and format characters.
import path from 'node:path'
import { escapeText } from '../util/log-text.js'
import type { ExportSummary, ManifestDevice, ManifestHeader, MergedShard, SupersededReason } from '../shapes/review.js'

/** GitHub caps a step summary at 1 MiB; a few hundred rows stay far below and stay readable. */
export const SUMMARY_MAX_ROWS = 200

export interface SummaryInput {
  header: ManifestHeader
  /** The first devices baked (at most SUMMARY_MAX_ROWS are shown). */
  devices: readonly ManifestDevice[]
  /** Devices in the review manifest: baked now or kept from an earlier run. */
  total: number
  /** Of `total`, complete from an earlier run and kept as they were. */
  kept: number
  /** Certificates no longer in use, to revoke: how many, why, and the file that holds them. */
  superseded: { count: number; byReason: Partial<Record<SupersededReason, number>>; path: string }
  /** Paths as shown: relative to the workspace (main.ts makes them so). */
  manifestPath: string
  certificatesPath: string
  outputDir: string
  /** The base image as shown (never the runner's absolute path), for image and partition outputs. */
  imagePath?: string
  /** The server CA installed on every device (root.crt): each certificate's subject and SHA-256. */
  serverCa?: { from: string; certificates: ReadonlyArray<{ subject: string; sha256: string }> }
  /** The gateway URL installed on every device (gateway.url). */
  gatewayUrl?: string
  /** fleet-ca-cert as the user gave it when it was a path (shown in the verify command), else a placeholder. */
  fleetCaCertPath?: string
  /** What the exports input asked for wrote (registration files), as the manifest records it. */
  exported?: readonly ExportSummary[]
  /** Revocation: devices revoked with credbake revoke, those a bake kept revoked, and the CRL written. */
  revocation?: {
    revoked: ReadonlyArray<{ serial: string; serialNumber: string; reason: string; revokedAt: string }>
    held: number
    crl?: { number: string; entries: number; nextUpdate: string; path: string }
  }
}

/** What each reason for a superseded certificate means, for the summary's table. */
export const SUPERSEDED_REASONS: Readonly<Record<SupersededReason, string>> = {
  'never-written': 'issued, but a run stopped before its output was complete',
  'output-redone': 'its output was found missing or changed on resume and was made again',
  overwritten: 'replaced by a run with overwrite: true',
  'not-in-manifest': 'its device is no longer in the device manifest (or this shard); its output was removed',
  'reissued-changed': 'issued anew because something that shaped the certificate or files changed'
}

/** An argument as a POSIX shell reads it back: as it is when that is safe, else in single quotes. */
export function shellQuote(text: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`
}

/**
 * The command that re-checks a bake's outputs against its manifest, for the summary and the log.
 * `--no-install`: until credbake is on the npm registry, a bare npx would fetch whatever holds the name.
 */
export function verifyCommandLine(manifestPath: string, fleetCaCertPath?: string): string {
  return `npx --no-install credbake verify --manifest ${shellQuote(manifestPath)} --fleet-ca-cert ${fleetCaCertPath ? shellQuote(fleetCaCertPath) : 'FLEET_CA.pem'}`
}

/**
 * A value for the summary's HTML. Control and format characters are escaped visibly first
 * (src/util/log-text.ts): a line break in a value could end the HTML block and let the rest be
 * read as Markdown, and a bidi override would make a row read differently from what it is.
 */
export function escapeHtml(text: string): string {
  return escapeText(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
}

export function renderSummary(input: SummaryInput): string {
  const { header } = input
  const ca = header.fleetCa
  const lifetime =
    header.profile.lifetime.kind === 'days'
      ? `${header.profile.lifetime.days} days`
      : header.profile.lifetime.kind === 'never'
        ? 'never expires (99991231235959Z)'
        : `until ${header.profile.lifetime.notAfter}`
  const bakedNow = input.total - input.kept
  const facts: Array<[string, string]> = [
    ['Fleet CA', `${ca.subject}${ca.intermediate ? ' (intermediate)' : ''}`],
    ['Fleet CA SHA-256', ca.sha256],
    ['Fleet CA valid', `${ca.notBefore} – ${ca.notAfter}`],
    ['Device key', header.profile.keyType],
    ['Signature', header.profile.signatureAlgorithm],
    ['Subject', header.profile.subject],
    ['Lifetime', lifetime],
    ['Layout', `${header.layout.name} in ${header.layout.credentialsDir}`],
    ['Output', `${header.output.format}${header.output.compress !== 'none' ? ` (${header.output.compress})` : ''} in ${input.outputDir}`],
    ...baseImageFacts(input),
    ...ostreeFacts(header),
    ...serverFacts(input),
    ['Shard', `${header.shard.index}/${header.shard.count}`],
    ['Devices', `${input.total} in the review manifest: ${bakedNow} baked now${input.kept ? `, ${input.kept} kept from an earlier run` : ''}`]
  ]
  const rows = input.devices.slice(0, SUMMARY_MAX_ROWS)
  const parts = [
    '<h2>credbake: device credentials baked</h2>',
    '<table>',
    ...facts.map(([key, value]) => `<tr><th align="left">${escapeHtml(key)}</th><td><code>${escapeHtml(value)}</code></td></tr>`),
    '</table>',
    ...warningList(header),
    ...supersededSection(input.superseded),
    ...exportsSection(input.exported, input.outputDir),
    ...revocationSection(input.revocation),
    '<h3>Devices</h3>',
    '<table>',
    '<tr><th>Serial</th><th>Device ID</th><th>Certificate serial</th><th>Certificate SHA-256</th><th>Not after</th><th>Output</th></tr>',
    ...rows.map(
      (device) =>
        `<tr><td>${escapeHtml(device.serial)}</td><td>${escapeHtml(device.deviceId)}</td><td><code>${escapeHtml(
          device.certificate.serialNumber
        )}</code></td><td><code>${escapeHtml(device.certificate.sha256)}</code></td><td>${escapeHtml(
          device.certificate.notAfter
        )}</td><td>${escapeHtml(device.output.path)}</td></tr>`
    ),
    '</table>'
  ]
  if (input.total > rows.length) {
    parts.push(`<p>${input.total - rows.length} more devices are not shown here; every one is in <code>${escapeHtml(input.manifestPath)}</code>.</p>`)
  }
  parts.push(`<p>Review manifest: <code>${escapeHtml(input.manifestPath)}</code>. Certificates for registration: <code>${escapeHtml(input.certificatesPath)}</code>.</p>`)
  parts.push(
    `<p>To check the outputs against the manifest before flashing (exit 0 when every device passes): <code>${escapeHtml(
      verifyCommandLine(input.manifestPath, input.fleetCaCertPath)
    )}</code></p>`
  )
  return `${parts.join('\n')}\n`
}

/** The base image the outputs were made from, with its SHA-256 and the partition written. */
function baseImageFacts(input: SummaryInput): Array<[string, string]> {
  const image = input.header.output.image
  if (!image) return []
  const facts: Array<[string, string]> = [['Base image', input.imagePath ?? image.path]]
  if (image.sha256) facts.push(['Base image SHA-256', image.sha256])
  if (image.partition) facts.push(['Partition', image.partition])
  return facts
}

/** What every device trusts and connects to: the server CA (root.crt) and the gateway URL. */
function serverFacts(input: SummaryInput): Array<[string, string]> {
  const facts: Array<[string, string]> = []
  const certificates = input.serverCa?.certificates ?? []
  for (const [index, certificate] of certificates.entries()) {
    const label = certificates.length > 1 ? `Server CA ${index + 1}` : 'Server CA'
    facts.push([label, `${certificate.subject} (from ${input.serverCa?.from})`], [`${label} SHA-256`, certificate.sha256])
  }
  if (input.gatewayUrl !== undefined) facts.push(['Gateway URL', input.gatewayUrl])
  return facts
}

/** Certificates to revoke: how many, in which file, and how many for each reason. */
function supersededSection(superseded: SummaryInput['superseded']): string[] {
  if (superseded.count === 0) return []
  const reasons = (Object.entries(superseded.byReason) as Array<[SupersededReason, number]>).filter(([, count]) => count > 0)
  return [
    '<h3>Superseded certificates: revoke them</h3>',
    `<p>${superseded.count} certificate${superseded.count === 1 ? ' was' : 's were'} issued earlier for these devices and ${
      superseded.count === 1 ? 'is' : 'are'
    } no longer in use. They are in <code>${escapeHtml(superseded.path)}</code> (and listed in the review manifest): revoke them on the server.</p>`,
    '<table>',
    '<tr><th>Reason</th><th>Certificates</th><th>Meaning</th></tr>',
    ...reasons.map(
      ([reason, count]) => `<tr><td><code>${escapeHtml(reason)}</code></td><td align="right">${count}</td><td>${escapeHtml(SUPERSEDED_REASONS[reason] ?? reason)}</td></tr>`
    ),
    '</table>'
  ]
}

/** The registration files written, one row per file, with the devices each lists (paths in output-dir). */
function exportsSection(exported: readonly ExportSummary[] | undefined, outputDir: string): string[] {
  if (!exported?.length) return []
  const rows = exported.flatMap((item) =>
    item.files.map(
      (file) =>
        `<tr><td><code>${escapeHtml(item.name)}</code></td><td><code>${escapeHtml(`${outputDir}/${file.path}`)}</code></td><td align="right">${
          file.devices === undefined ? 'fleet CA' : `${file.devices} devices`
        }</td></tr>`
    )
  )
  return [
    '<h3>Registration exports</h3>',
    '<p>Listed in SHA256SUMS; how to hand them to each registry: docs/revocation-and-registries.md.</p>',
    '<table>',
    '<tr><th>Export</th><th>File</th><th>Lists</th></tr>',
    ...rows,
    '</table>'
  ]
}

/** One line per export for a log: "aws-iot: exports/aws-iot.jsonl (12 devices), exports/aws-iot-template.json". */
export function exportLines(exported: readonly ExportSummary[] | undefined, outputDir: string): string[] {
  return (exported ?? []).map(
    (item) => `${item.name}: ${item.files.map((file) => `${path.posix.join(outputDir, file.path)}${file.devices === undefined ? '' : ` (${file.devices} devices)`}`).join(', ')}`
  )
}

/** The CRL written, and the revoked devices (at most SUMMARY_MAX_ROWS listed). */
function revocationSection(revocation: SummaryInput['revocation']): string[] {
  if (!revocation || (!revocation.crl && revocation.revoked.length === 0)) return []
  const parts = ['<h3>Revocation</h3>']
  const { crl } = revocation
  if (crl) {
    parts.push(
      `<p>CRL number ${escapeHtml(crl.number)} with ${crl.entries} entr${crl.entries === 1 ? 'y' : 'ies'} in <code>${escapeHtml(crl.path)}</code>, valid until <code>${escapeHtml(
        crl.nextUpdate
      )}</code>: install it on the gateways and sign a fresh one (<code>credbake crl</code>) before then.</p>`
    )
  }
  if (revocation.revoked.length) {
    parts.push(
      `<p>${revocation.revoked.length} device${revocation.revoked.length === 1 ? ' is' : 's are'} revoked${
        revocation.held ? `; this bake kept ${revocation.held} of them revoked and did not bake them again (<code>reissue-revoked</code> issues a new certificate on purpose)` : ''
      }.</p>`,
      '<table>',
      '<tr><th>Serial</th><th>Certificate serial</th><th>Reason</th><th>Revoked at</th></tr>',
      ...revocation.revoked
        .slice(0, SUMMARY_MAX_ROWS)
        .map(
          (device) =>
            `<tr><td>${escapeHtml(device.serial)}</td><td><code>${escapeHtml(device.serialNumber)}</code></td><td>${escapeHtml(device.reason)}</td><td>${escapeHtml(device.revokedAt)}</td></tr>`
        ),
      '</table>'
    )
  }
  return parts
}

export interface FailureSummaryInput {
  /** What stopped the step, as its error line says it. */
  message: string
  /** The kind of failure and its exit code, e.g. "bad input (exit code 2 in the CLI)". */
  kind: string
  /** The input the error is about; `where`: the file (and line) it points at, as shown. */
  input?: string
  where?: string
  /** Stopped by a signal (a cancelled job): the message says what was done. */
  cancelled?: boolean
  /** The step merged shard manifests (input merge) instead of baking. */
  merge?: boolean
  /**
   * How far the bake got: the devices in scope, those an earlier run had completed (kept), and
   * those complete when it stopped (kept ones included). Absent when it stopped before planning.
   */
  progress?: { total: number; kept: number; done: number }
  /** output-dir as shown; absent when the inputs never got that far. */
  outputDir?: string
  /** The step's resume input (true unless set to false). */
  resume: boolean
}

/**
 * The summary of a step that failed or was cancelled: what failed, how far the bake got, and what
 * running it again will do. Nothing in it claims a review: none was written.
 */
export function renderFailureSummary(input: FailureSummaryInput): string {
  const title = input.cancelled ? 'stopped' : 'failed'
  const facts: Array<[string, string]> = [['Failure', input.kind]]
  if (input.input) facts.push(['Input', input.input])
  if (input.where) facts.push(['Where', input.where])
  if (input.outputDir) facts.push(['Output dir', input.outputDir])
  const parts = [
    `<h2>credbake: ${input.merge ? 'merge' : 'bake'} ${title}</h2>`,
    `<p><strong>${escapeHtml(input.message)}</strong></p>`,
    '<table>',
    ...facts.map(([key, value]) => `<tr><th align="left">${escapeHtml(key)}</th><td><code>${escapeHtml(value)}</code></td></tr>`),
    '</table>',
    '<h3>What a rerun does</h3>',
    `<p>${escapeHtml(input.merge ? mergeRerun() : bakeRerun(input))}</p>`
  ]
  return `${parts.join('\n')}\n`
}

function mergeRerun(): string {
  return 'Nothing was merged: a refused merge writes nothing, and a stopped one removes what it had placed. Fix the cause above and run the step again; it merges from the start.'
}

function bakeRerun(input: FailureSummaryInput): string {
  const progress = input.progress
  const noReview = 'No review manifest was written for this run: flash nothing from output-dir until a run completes and its outputs are verified.'
  if (!progress) return `No device was issued in this run. Fix the cause above and run the step again. ${noReview}`
  const bakedNow = Math.max(0, progress.done - progress.kept)
  const remaining = Math.max(0, progress.total - progress.done)
  const done =
    `Of the ${progress.total} devices in scope, ${bakedNow} ${bakedNow === 1 ? 'was' : 'were'} baked in this run before it stopped` +
    (progress.kept ? ` and ${progress.kept} ${progress.kept === 1 ? 'was' : 'were'} kept from an earlier run` : '') +
    '; each is recorded in the journal in output-dir.'
  const rerun = input.resume
    ? `Run the step again with the same inputs: it resumes, keeps the ${progress.done} complete device${progress.done === 1 ? '' : 's'} as they are and bakes the remaining ${remaining}. A certificate issued for an output that was not finished is listed as superseded (never-written) in the next review, to revoke.`
    : `This step ran with resume: false. Run it again with resume: true (the default) to keep the ${progress.done} complete device${progress.done === 1 ? '' : 's'} and bake the remaining ${remaining}; with resume: false it refuses the non-empty output-dir unless overwrite: true, which issues every device anew.`
  return `${done} ${rerun} ${noReview}`
}

/** Where an OSTree bake put the files: the stateroot, the sysroot folder, the deployments. */
function ostreeFacts(header: ManifestHeader): Array<[string, string]> {
  const ostree = header.output.ostree
  if (!ostree) return []
  const where = `${header.layout.credentialsDir} in /ostree/deploy/${ostree.os}/var${header.layout.credentialsDir.slice('/var'.length)}`
  const deployments = ostree.deployments?.length ? ` (deployments: ${ostree.deployments.join(', ')})` : ''
  return [['OSTree', `stateroot ${ostree.os}: ${where}${ostree.sysrootPaths && !header.output.image ? ', outputs at sysroot paths' : ''}${deployments}`]]
}

/** The review's warnings, each as the log said it. */
function warningList(header: ManifestHeader): string[] {
  if (!header.warnings?.length) return []
  return ['<h3>Warnings</h3>', '<ul>', ...header.warnings.map((w) => `<li><strong>${escapeHtml(w.code)}</strong>: ${escapeHtml(w.message)}</li>`), '</ul>']
}

export interface MergeSummaryInput {
  header: ManifestHeader
  shards: readonly MergedShard[]
  devices: number
  superseded: number
  manifestPath: string
  certificatesPath: string
  supersededPath: string
  outputDir: string
  /** What the exports the shards name wrote, regenerated from the merged devices. */
  exported?: readonly ExportSummary[]
}

/** After `merge`: what was combined, one row per shard, and the totals. */
export function renderMergeSummary(input: MergeSummaryInput): string {
  const ca = input.header.fleetCa
  const parts = [
    '<h2>credbake: shard manifests merged</h2>',
    '<table>',
    `<tr><th align="left">Fleet CA</th><td><code>${escapeHtml(ca.subject)}</code> (SHA-256 <code>${escapeHtml(ca.sha256)}</code>)</td></tr>`,
    `<tr><th align="left">Device manifest</th><td><code>${escapeHtml(input.header.source.manifest.path)}</code> (SHA-256 <code>${escapeHtml(
      input.header.source.manifest.sha256
    )}</code>)</td></tr>`,
    `<tr><th align="left">Output</th><td><code>${escapeHtml(input.header.output.format)}</code> in <code>${escapeHtml(input.outputDir)}</code></td></tr>`,
    '</table>',
    '<h3>Shards</h3>',
    '<table>',
    '<tr><th>Shard</th><th>Devices</th><th>Superseded</th><th>Manifest</th></tr>',
    ...input.shards.map(
      (shard) =>
        `<tr><td>${escapeHtml(shard.shard)}</td><td align="right">${shard.devices}</td><td align="right">${shard.superseded}</td><td><code>${escapeHtml(
          shard.manifest
        )}</code></td></tr>`
    ),
    `<tr><th>Total</th><th align="right">${input.devices}</th><th align="right">${input.superseded}</th><th></th></tr>`,
    '</table>',
    ...exportsSection(input.exported, input.outputDir),
    `<p>Review manifest: <code>${escapeHtml(input.manifestPath)}</code>. Certificates for registration: <code>${escapeHtml(input.certificatesPath)}</code>.${
      input.superseded ? ` ${input.superseded} superseded certificates, to revoke: <code>${escapeHtml(input.supersededPath)}</code>.` : ''
    }</p>`,
    `<p>To check the outputs against the manifest before flashing: <code>${escapeHtml(verifyCommandLine(input.manifestPath))}</code></p>`
  ]
  return `${parts.join('\n')}\n`
}
