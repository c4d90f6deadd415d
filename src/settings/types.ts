// The typed settings object: built once from action inputs or CLI flags (src/settings/parse.ts),
// then passed to every stage. Nothing after parsing reads inputs again.

export const KEY_TYPES = ['ec-p256', 'ec-p384', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'ed25519'] as const
export type KeyType = (typeof KEY_TYPES)[number]

export const LAYOUTS = ['aktualizr', 'flat'] as const
export type Layout = (typeof LAYOUTS)[number]

export const FORMATS = ['image', 'partition', 'tar', 'dir'] as const
export type Format = (typeof FORMATS)[number]

export const COMPRESSIONS = ['none', 'gz', 'xz', 'zst'] as const
export type Compression = (typeof COMPRESSIONS)[number]

/** PEM given as text or read from a path; `origin` says which, for messages (never the text). */
export interface PemSource {
  /** The input name, e.g. "fleet-ca-key". */
  input: string
  text: string
  /** "input fleet-ca-key" or the file path it was read from. */
  origin: string
}

export type Lifetime =
  | { kind: 'days'; days: number }
  | { kind: 'until'; notAfter: Date }
  | { kind: 'never' }

export type PartitionSelector =
  | { kind: 'number'; number: number }
  | { kind: 'label'; value: string }
  | { kind: 'name'; value: string }

export interface Shard {
  /** 1-based. */
  index: number
  count: number
}

export interface Settings {
  manifestPath: string
  fleetCaCert: PemSource
  fleetCaKey: PemSource
  fleetCaKeyPassphrase?: string
  serverCa?: PemSource
  gatewayUrl?: string
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
  format: Format
  compress: Compression
  /** Absolute. */
  outputDir: string
  shard: Shard
  resume: boolean
  overwrite: boolean
  /** Where secrets may be written while the job runs: RUNNER_TEMP, else the OS temp dir. */
  tempRoot: string
  /** Worker threads for issuance; 0 means one per core. */
  concurrency: number
}
