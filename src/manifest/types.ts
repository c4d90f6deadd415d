/** One row of the device manifest. */
export interface Device {
  serial: string
  /** Certificate CN; defaults to the serial. */
  deviceId: string
  /** Path of a PEM CSR to sign instead of generating a key (resolved against the manifest's folder). */
  csr?: string
  /** Every field of the row as text (including serial and device-id), for templates. */
  fields: Record<string, string>
  /** Where the row is, for messages and annotations. */
  source: { file: string; line: number }
}
