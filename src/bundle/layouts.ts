// What goes on the device, per layout, as data: one row per file. Adding a layout is adding a
// table, not code.
import type { Layout } from '../settings/types.js'

export type FileSource = 'certificate' | 'certificate-chain' | 'private-key' | 'server-ca' | 'gateway-url'

export interface LayoutFile {
  name: string
  source: FileSource
  mode: number
  /** Absent sources (no server-ca, no gateway-url) are skipped when optional. */
  optional: boolean
}

export const LAYOUT_FILES: Record<Layout, readonly LayoutFile[]> = {
  // aktualizr's [import] section in provision mode "DeviceCred": the device certificate followed by
  // the chain above it (aktualizr sends client.pem whole, so a server trusting only the root
  // accepts it), the key as PKCS#8, the server's CA and the gateway URL.
  aktualizr: [
    { name: 'client.pem', source: 'certificate-chain', mode: 0o644, optional: false },
    { name: 'pkey.pem', source: 'private-key', mode: 0o600, optional: false },
    { name: 'root.crt', source: 'server-ca', mode: 0o644, optional: true },
    { name: 'gateway.url', source: 'gateway-url', mode: 0o644, optional: true }
  ],
  // Plain names for other clients (mosquitto, curl, custom agents).
  flat: [
    { name: 'cert.pem', source: 'certificate', mode: 0o644, optional: false },
    { name: 'chain.pem', source: 'certificate-chain', mode: 0o644, optional: false },
    { name: 'key.pem', source: 'private-key', mode: 0o600, optional: false },
    { name: 'ca.pem', source: 'server-ca', mode: 0o644, optional: true },
    { name: 'gateway.url', source: 'gateway-url', mode: 0o644, optional: true }
  ]
}
