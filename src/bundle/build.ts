// Bundle stage: an issued credential → the files to install on the device.
import { X509Certificate } from 'node:crypto'
import path from 'node:path'
import type { IssuedCredential } from '../issue/types.js'
import type { Layout } from '../settings/types.js'
import { sysrootPath } from '../placement/ostree.js'
import { LAYOUT_FILES, type FileSource } from './layouts.js'
import type { BundleFile } from './types.js'

export interface BundleOptions {
  layout: Layout
  credentialsDir: string
  /** PEMs above the signing CA, appended after the device certificate (intermediate fleet CA). */
  chainPems: readonly string[]
  /** Include the signing CA itself in the chain (true when it is an intermediate). */
  signingCaPem?: string
  serverCaPem?: string
  gatewayUrl?: string
  /**
   * The OSTree stateroot whose var holds the files: each file's `partitionPath` is then its sysroot
   * path (/var/… → /ostree/deploy/OS/var/…). Device paths outside /var were refused before issuing.
   */
  ostreeOs?: string
}

export function buildBundle(credential: IssuedCredential, options: BundleOptions): BundleFile[] {
  const sources: Record<FileSource, string | undefined> = {
    certificate: credential.certificatePem,
    'certificate-chain': [credential.certificatePem, options.signingCaPem, ...options.chainPems]
      .filter((pem): pem is string => pem !== undefined)
      .map(withNewline)
      .join(''),
    'private-key': credential.privateKeyPem,
    'server-ca': options.serverCaPem === undefined ? undefined : withNewline(options.serverCaPem),
    'gateway-url': options.gatewayUrl === undefined ? undefined : `${options.gatewayUrl}\n`
  }
  const files: BundleFile[] = []
  for (const file of LAYOUT_FILES[options.layout]) {
    const text = sources[file.source]
    // A row with a CSR has no private key: the device keeps its own.
    if (text === undefined) continue
    const devicePath = path.posix.join(options.credentialsDir, file.name)
    files.push({
      path: devicePath,
      ...(options.ostreeOs === undefined ? {} : { partitionPath: sysrootPath(devicePath, options.ostreeOs) }),
      content: Buffer.from(text, 'utf8'),
      mode: file.mode,
      uid: 0,
      gid: 0,
      secret: file.source === 'private-key'
    })
  }
  return files
}

/**
 * Chain options for a fleet CA: an intermediate and the issuers above it go into client.pem, so a
 * server that trusts only the fleet root accepts the device. Self-signed roots are left out: the
 * server already has them, and RFC 8446 lets a peer omit the trust anchor.
 */
export function chainFor(ca: { pem: string; chainPems: string[]; isIntermediate: boolean }): Pick<BundleOptions, 'signingCaPem' | 'chainPems'> {
  if (!ca.isIntermediate) return { chainPems: [] }
  return { signingCaPem: ca.pem, chainPems: ca.chainPems.filter((pem) => !isSelfSigned(pem)) }
}

function isSelfSigned(pem: string): boolean {
  const certificate = new X509Certificate(pem)
  return certificate.subject === certificate.issuer && certificate.checkIssued(certificate)
}

function withNewline(text: string): string {
  return text.endsWith('\n') ? text : `${text}\n`
}
