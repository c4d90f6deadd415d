// The typed settings object: built once from action inputs or CLI flags (src/settings/parse.ts),
// then passed to every stage. Nothing after parsing reads inputs again.

export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519'] as const
export type KeyType = (typeof KEY_TYPES)[number]

export const LAYOUTS = ['aktualizr', 'flat'] as const
export type Layout = (typeof LAYOUTS)[number]

/**
 * The key URI schemes fleet-ca-key accepts besides PEM, one per signer that takes a URI: the one
 * list (settings tell a URI from a PEM path with it, each signer recognises its own, and the signer
 * registry names them in its refusal).
 */
export const KEY_URI_SCHEMES = { pkcs11: 'pkcs11:', awskms: 'awskms://', exec: 'exec:' } as const
export type KeyUriScheme = keyof typeof KEY_URI_SCHEMES

/**
 * The signer scheme `reference` starts with, or undefined for anything else (PEM text or a path).
 * `awskms://` is recognised in any case and after blanks, as KMS key references are written.
 */
export function keyUriScheme(reference: string): KeyUriScheme | undefined {
  if (reference.startsWith(KEY_URI_SCHEMES.pkcs11)) return 'pkcs11'
  if (reference.startsWith(KEY_URI_SCHEMES.exec)) return 'exec'
  if (reference.trim().toLowerCase().startsWith(KEY_URI_SCHEMES.awskms)) return 'awskms'
  return undefined
}

/**
 * The registration exports the `exports` input names, in the order they are written (the export
 * registry, src/exports/registration.ts REGISTRY_EXPORTS, implements exactly these, in this order;
 * test/exports/exports.test.ts checks it).
 */
export const EXPORT_NAMES = ['aws-iot', 'azure-dps'] as const
export type ExportName = (typeof EXPORT_NAMES)[number]

export const COMPRESSIONS = ['none', 'gz', 'xz', 'zst'] as const
export type Compression = (typeof COMPRESSIONS)[number]

/** File extension of each compression, with the dot (image outputs end with it). */
export function compressionExtension(kind: Compression): string {
  return kind === 'none' ? '' : `.${kind}`
}

/** PEM given as text or read from a path; `origin` says which, for messages (never the text). */
export interface PemSource {
  /** The input name, e.g. "fleet-ca-key". */
  input: string
  text: string
  /** "input fleet-ca-key" or the file path it was read from. */
  origin: string
}

export type Lifetime = { kind: 'days'; days: number } | { kind: 'until'; notAfter: Date } | { kind: 'never' }

export type PartitionSelector = { kind: 'number'; number: number } | { kind: 'label'; value: string } | { kind: 'name'; value: string }

export interface Shard {
  /** 1-based. */
  index: number
  count: number
}

export interface Settings {
  manifestPath: string
  fleetCaCert: PemSource
  /** A PEM key (text, read from a path if given one), or a key URI (pkcs11:, awskms://, exec:) in `text`. */
  fleetCaKey: PemSource
  fleetCaKeyPassphrase?: string
  /** pkcs11-module: the PKCS#11 module for a pkcs11: fleet-ca-key without module-path. */
  pkcs11Module?: string
  serverCa?: PemSource
  gatewayUrl?: string
  /** Absolute path of OTA Connect's credentials.zip when given (serverCa and gatewayUrl may come from it). */
  credentialsZip?: string
  layout: Layout
  /** Absolute POSIX path on the device. */
  credentialsDir: string
  keyType: KeyType
  lifetime: Lifetime
  /** DN template, e.g. "CN={device-id},O=Acme". */
  subject: string
  /** Optional SAN template, e.g. "DNS:{serial}.devices.example.com,URI:urn:dev:{device-id}". */
  san?: string
  image?: string
  partition?: PartitionSelector
  /**
   * ostree-os: the OSTree stateroot whose /var receives the files (image formats: it must be in
   * the partition's sysroot; tar/dir: outputs carry sysroot paths). Unset: image formats take the
   * only stateroot of a sysroot they find; tar/dir carry device paths.
   */
  ostreeOs?: string
  /** The output format's name (src/formats/registry.ts), checked when parsed. */
  format: string
  compress: Compression
  /** Write a bmap file beside each image/partition output. */
  bmap: boolean
  /**
   * exports: the registration exports to write (src/exports/registration.ts), by name, each once,
   * in the registry's order; absent for none.
   */
  exports?: readonly ExportName[]
  /** Sign and write the fleet CA's CRL after the bake (crl.pem, crl.der). */
  crl: boolean
  /** The CRL's nextUpdate in days. */
  crlDays: number
  /** Revoked devices to issue anew on purpose (input reissue-revoked). */
  reissueRevoked: string[]
  /** Absolute. */
  outputDir: string
  shard: Shard
  resume: boolean
  overwrite: boolean
  /** Where secrets may be written while the job runs: RUNNER_TEMP, else the OS temp dir. */
  tempRoot: string
  /**
   * Check the free space of output-dir before issuing (default). Off only through the environment
   * (CREDBAKE_DISK_PREFLIGHT=off), for an estimate that is wrong on some file system, and for tests
   * that fill a disk on purpose.
   */
  diskPreflight: boolean
  /** Worker threads for issuance; 0 means one per core. */
  concurrency: number
}
