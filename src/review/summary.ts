// The job summary: what a reviewer sees on the run page. HTML, because GitHub renders it and
// core.summary does no escaping of its own: every value goes through escapeHtml.
import type { ManifestDevice, ManifestHeader } from './types.js'

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
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)
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
    ['Shard', `${header.shard.index}/${header.shard.count}`],
    ['Devices', `${input.total} baked${input.skipped ? `, ${input.skipped} already complete (resumed)` : ''}`]
  ]
  const rows = input.devices.slice(0, SUMMARY_MAX_ROWS)
  const parts = [
    '<h2>credbake: device credentials baked</h2>',
    '<table>',
    ...facts.map(([key, value]) => `<tr><th align="left">${escapeHtml(key)}</th><td><code>${escapeHtml(value)}</code></td></tr>`),
    '</table>',
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
    parts.push(
      `<p>${input.total - rows.length} more devices are not shown here; every one is in <code>${escapeHtml(
        input.manifestPath
      )}</code>.</p>`
    )
  }
  parts.push(
    `<p>Review manifest: <code>${escapeHtml(input.manifestPath)}</code>. Certificates for registration or revocation: <code>${escapeHtml(
      input.certificatesPath
    )}</code>.</p>`
  )
  return `${parts.join('\n')}\n`
}
