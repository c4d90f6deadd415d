// Independent readers of a CRL for the tests: openssl (`crl -verify`, `crl -text`, `verify
// -crl_check`) and GnuTLS (`certtool --crl-info`, `--verify-crl`, `--verify` with a CRL). They
// share no code with src/x509, so a CRL they accept is one real relying parties accept.
import { spawnSync } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import path from 'node:path'
import { makePkiDir } from '../helpers/pki.js'

export interface ToolRun {
  ok: boolean
  /** stdout and stderr together. */
  output: string
}

export function run(command: string, args: string[]): ToolRun {
  const result = spawnSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 })
  if (result.error) throw result.error
  return { ok: result.status === 0, output: `${result.stdout.toString('utf8')}${result.stderr.toString('utf8')}` }
}

/** Writes files into a fresh directory (removed by cleanupPki) and returns their paths. */
export function files(contents: Record<string, string | Buffer>): Record<string, string> {
  const dir = makePkiDir('credbake-crl-')
  const paths: Record<string, string> = {}
  for (const [name, content] of Object.entries(contents)) {
    paths[name] = path.join(dir, name)
    writeFileSync(paths[name] as string, content)
  }
  return paths
}

/** `openssl crl -verify -CAfile`: the signature checks out against the CA certificate. */
export function opensslCrlVerify(caPem: string, crlPem: string): ToolRun {
  const paths = files({ 'ca.pem': caPem, 'crl.pem': crlPem })
  const result = run('openssl', ['crl', '-in', paths['crl.pem'] as string, '-noout', '-verify', '-CAfile', paths['ca.pem'] as string])
  // openssl 3.0 prints "verify OK" on stderr and exits 0 even for a bad signature ("verify failure").
  return { ok: result.ok && /verify OK/.test(result.output) && !/verify fail/i.test(result.output), output: result.output }
}

export function opensslCrlText(crlPem: string): string {
  const paths = files({ 'crl.pem': crlPem })
  const result = run('openssl', ['crl', '-in', paths['crl.pem'] as string, '-noout', '-text'])
  if (!result.ok) throw new Error(`openssl crl -text failed: ${result.output}`)
  return result.output
}

/** Serial (lower-case hex, as openssl prints it) → reason text, from `openssl crl -text`. */
export function opensslReasons(text: string): Map<string, string> {
  const reasons = new Map<string, string>()
  const blocks = text.split(/\n\s*Serial Number: /).slice(1)
  for (const block of blocks) {
    const serial = (block.split('\n')[0] ?? '').trim().toLowerCase()
    const reason = /CRL Reason Code:\s*\n\s*(.+)/.exec(block)?.[1]?.trim()
    reasons.set(serial, reason ?? '(none)')
  }
  return reasons
}

export interface CerttoolCrl {
  version: number
  issuer: string
  issued: Date
  nextAt: Date
  /** The cRLNumber's INTEGER contents as certtool prints them (hex). */
  numberHex: string
  number: bigint
  count: number
  entries: Array<{ serial: string; revokedAt: Date }>
}

const CERTTOOL_DATE = /(\w{3}) (\w{3}) (\d{2}) (\d{2}:\d{2}:\d{2}) UTC (\d{4})/

function certtoolDate(text: string | undefined): Date {
  const match = CERTTOOL_DATE.exec(text ?? '')
  if (!match) throw new Error(`certtool date not understood: ${text}`)
  const [, , month, day, time, year] = match
  return new Date(`${month} ${day} ${year} ${time} UTC`)
}

/** GnuTLS `certtool --crl-info`, parsed. Throws when certtool refuses the CRL. */
export function certtoolCrlInfo(crlPem: string): CerttoolCrl {
  const paths = files({ 'crl.pem': crlPem })
  const result = run('certtool', ['--crl-info', '--infile', paths['crl.pem'] as string])
  if (!result.ok) throw new Error(`certtool --crl-info failed: ${result.output}`)
  const text = result.output
  const numberHex = /CRL Number \(not critical\): ([0-9a-f]+)/.exec(text)?.[1] ?? ''
  const entries = [...text.matchAll(/Serial Number \(hex\): ([0-9a-f]+)\s*\n\s*Revoked at: ([^\n]+)/g)].map((match) => ({
    serial: match[1] as string,
    revokedAt: certtoolDate(match[2])
  }))
  return {
    version: Number(/Version: (\d+)/.exec(text)?.[1]),
    issuer: /Issuer: ([^\n]+)/.exec(text)?.[1]?.trim() ?? '',
    issued: certtoolDate(/Issued: ([^\n]+)/.exec(text)?.[1]),
    nextAt: certtoolDate(/Next at: ([^\n]+)/.exec(text)?.[1]),
    numberHex,
    number: numberHex ? BigInt(`0x${numberHex}`) : -1n,
    count: Number(/Revoked certificates \((\d+)\)/.exec(text)?.[1] ?? 0),
    entries
  }
}

/** GnuTLS `certtool --verify-crl`: the signature checks out against the CA certificate. */
export function certtoolVerifyCrl(caPem: string, crlPem: string): ToolRun {
  const paths = files({ 'ca.pem': caPem, 'crl.pem': crlPem })
  const result = run('certtool', ['--verify-crl', '--load-ca-certificate', paths['ca.pem'] as string, '--infile', paths['crl.pem'] as string])
  return { ok: result.ok && /Verification output: Verified/.test(result.output), output: result.output }
}

/**
 * `openssl verify -crl_check` of one certificate against the trust anchor, the intermediates and
 * the CRL(s): "OK", or openssl's error (e.g. "certificate revoked").
 */
export function opensslVerifyWithCrl(certPem: string, opts: { trustedPem: string; untrustedPem?: string; crlPem: string; all?: boolean }): ToolRun {
  const paths = files({ 'cert.pem': certPem, 'trusted.pem': opts.trustedPem, 'crl.pem': opts.crlPem, 'untrusted.pem': opts.untrustedPem ?? '' })
  const args = ['verify', opts.all ? '-crl_check_all' : '-crl_check', '-CAfile', paths['trusted.pem'] as string, '-CRLfile', paths['crl.pem'] as string]
  if (opts.untrustedPem) args.push('-untrusted', paths['untrusted.pem'] as string)
  const result = run('openssl', [...args, paths['cert.pem'] as string])
  return { ok: result.ok && /: OK\s*$/.test(result.output), output: result.output }
}

/** GnuTLS `certtool --verify` of a certificate against the CA with the CRL loaded. */
export function certtoolVerifyWithCrl(certPem: string, caPem: string, crlPem: string): ToolRun {
  const paths = files({ 'cert.pem': certPem, 'ca.pem': caPem, 'crl.pem': crlPem })
  const result = run('certtool', [
    '--verify',
    '--load-ca-certificate',
    paths['ca.pem'] as string,
    '--load-crl',
    paths['crl.pem'] as string,
    '--infile',
    paths['cert.pem'] as string
  ])
  return { ok: result.ok && /Chain verification output: Verified/.test(result.output), output: result.output }
}
