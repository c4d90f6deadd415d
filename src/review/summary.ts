// The job summary: what a reviewer sees on the run page. HTML, because GitHub renders it and
// core.summary does no escaping of its own: every value goes through escapeHtml, which also
// escapes control and format characters.
import { escapeText } from '../util/log-text.js'
import type { ManifestDevice, ManifestHeader, MergedShard } from './types.js'

/** GitHub caps a step summary at 1 MiB; a few hundred rows stay far below and stay readable. */
export const SUMMARY_MAX_ROWS = 200

export interface SummaryInput {
  header: ManifestHeader
  /** The first devices baked (at most SUMMARY_MAX_ROWS are shown). */
  devices: readonly ManifestDevice[]
  total: number
  skipped: number
  manifestPath: string
  certificatesPath: string
  /** fleet-ca-cert as the user gave it when it was a path (shown in the verify command), else a placeholder. */
  fleetCaCertPath?: string
}

/** The command that re-checks a bake's outputs against its manifest, for the summary and the log. */
export function verifyCommandLine(manifestPath: string, fleetCaCertPath?: string): string {
  const quote = (text: string): string => (/^[A-Za-z0-9_./:=@%+-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`)
  return `npx credbake verify --manifest ${quote(manifestPath)} --fleet-ca-cert ${fleetCaCertPath ? quote(fleetCaCertPath) : 'FLEET_CA.pem'}`
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
  const facts: Array<[string, string]> = [
    ['Fleet CA', `${ca.subject}${ca.intermediate ? ' (intermediate)' : ''}`],
    ['Fleet CA SHA-256', ca.sha256],
    ['Fleet CA valid', `${ca.notBefore} – ${ca.notAfter}`],
    ['Device key', header.profile.keyType],
    ['Signature', header.profile.signatureAlgorithm],
    ['Subject', header.profile.subject],
    ['Lifetime', lifetime],
    ['Layout', `${header.layout.name} in ${header.layout.credentialsDir}`],
    ['Output', header.output.format + (header.output.image ? ` from ${header.output.image.path}` : '')],
    ...ostreeFacts(header),
    ['Shard', `${header.shard.index}/${header.shard.count}`],
    ['Devices', `${input.total} baked${input.skipped ? `, ${input.skipped} already complete (resumed)` : ''}`]
  ]
  const rows = input.devices.slice(0, SUMMARY_MAX_ROWS)
  const parts = [
    '<h2>credbake: device credentials baked</h2>',
    '<table>',
    ...facts.map(([key, value]) => `<tr><th align="left">${escapeHtml(key)}</th><td><code>${escapeHtml(value)}</code></td></tr>`),
    '</table>',
    ...warningList(header),
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
  parts.push(
    `<p>Review manifest: <code>${escapeHtml(input.manifestPath)}</code>. Certificates for registration or revocation: <code>${escapeHtml(input.certificatesPath)}</code>.</p>`
  )
  parts.push(
    `<p>To check the outputs against the manifest before flashing (exit 0 when every device passes): <code>${escapeHtml(
      verifyCommandLine(input.manifestPath, input.fleetCaCertPath)
    )}</code></p>`
  )
  return `${parts.join('\n')}\n`
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
  outputDir: string
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
    `<p>Review manifest: <code>${escapeHtml(input.manifestPath)}</code>. Certificates for registration or revocation: <code>${escapeHtml(input.certificatesPath)}</code>.</p>`,
    `<p>To check the outputs against the manifest before flashing: <code>${escapeHtml(verifyCommandLine(input.manifestPath))}</code></p>`
  ]
  return `${parts.join('\n')}\n`
}
