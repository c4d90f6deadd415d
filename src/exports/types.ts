// What a registration export is made of: one JSON line per device (streamed, so memory stays flat
// in the fleet size) plus files that depend on the fleet CA alone. Each registry is one module in
// this folder; the review's export seam writes the files, lists them in SHA256SUMS and merges them.

/** One device as a registry sees it. */
export interface RegistryDevice {
  /** The manifest serial (names credbake's files). */
  serial: string
  deviceId: string
  /** The device certificate alone, PEM (no chain above it). */
  certificatePem: string
  /** The CN of the certificate's subject (the identity device clients such as aktualizr present). */
  commonName: string | undefined
}

export interface ExportFile {
  /** Relative to output-dir, e.g. "exports/aws-iot-template.json". */
  path: string
  text: string
}

export interface RegistryExport {
  /** The name in the `exports` input, e.g. "aws-iot". */
  readonly name: string
  /** The JSONL file, relative to output-dir. */
  readonly jsonlPath: string
  /**
   * Why this device cannot go into the registry (its ID or CN breaks the registry's rules), or
   * null. Needs only what is known before issuing, so rows are refused before any certificate.
   */
  check(device: Pick<RegistryDevice, 'deviceId' | 'commonName'>): string | null
  /** The device's JSON line, without the newline. */
  line(device: RegistryDevice): string
  /** Files beside the JSONL, from the signing fleet CA's certificate. */
  caFiles(fleetCaPem: string): ExportFile[]
}
