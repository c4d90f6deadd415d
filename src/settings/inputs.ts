// Every action input / CLI flag, as data. action.yml, the CLI's --help and the README's input
// table are generated from (and checked against) this list by test/settings/action-yml.test.ts,
// so they cannot drift.

import { defaultFormat, OUTPUT_FORMATS } from '../formats/registry.js'

/** "`image` (a full image), …, `tar` (a .tar.gz overlay) or `dir` (a tree)", from the format registry. */
function listFormats(): string {
  const named = OUTPUT_FORMATS.map((format) => `\`${format.name}\` (${format.summary})`)
  return named.length > 1 ? `${named.slice(0, -1).join(', ')} or ${named.at(-1)}` : (named[0] ?? '')
}

export interface InputSpec {
  name: string
  description: string
  /**
   * Default as the user sees it; undefined when there is none. The only place defaults live:
   * action.yml, --help, the README and the settings parser all take them from here.
   */
  default?: string
  /**
   * Applied by the settings parser when the input is not given, but not declared as a default to
   * the runner (action.yml), because another input replaces it (the runner would always pass it).
   */
  impliedDefault?: string
  /**
   * A bake cannot run without it: the settings parser refuses a bake that lacks it, naming the
   * input, and `credbake bake --help` marks it. A merge (input `merge`) takes none of these, and
   * action.yml cannot say "unless merge", so action.yml declares it not required.
   */
  requiredToBake?: boolean
  /** Values that must never be printed (masked in the action). */
  secret?: boolean
  /** CLI: a flag that takes no value. */
  boolean?: boolean
}

export const INPUTS: readonly InputSpec[] = [
  {
    name: 'manifest',
    requiredToBake: true,
    description:
      'Device manifest: .csv (header row), .json (array or {devices:[...]}), .jsonl or .yaml/.yml. Field `serial` is required (1-64 of A-Za-z0-9._-, not starting with "."); `device-id` (certificate CN, defaults to the serial, may also hold ":") and `csr` (path of a PEM CSR to sign instead of generating a key) are optional; other fields can be used in templates.'
  },
  {
    name: 'fleet-ca-cert',
    requiredToBake: true,
    description: 'Fleet CA certificate as PEM text or a path to a PEM file. May hold a chain: the signing CA first, then its issuers.'
  },
  {
    name: 'fleet-ca-key',
    requiredToBake: true,
    secret: true,
    description:
      'Fleet CA private key as PEM text (e.g. a repository secret) or a path: PKCS#8, encrypted PKCS#8, SEC1 EC or PKCS#1 RSA. Or a key URI that keeps the key off the runner: `pkcs11:token=…;object=…` (RFC 7512, a PKCS#11 token or HSM), `awskms://[ENDPOINT/]KEY` (AWS KMS) or `exec:PATH` (a signer program). Masked; never printed.'
  },
  {
    name: 'fleet-ca-key-passphrase',
    secret: true,
    description: 'Passphrase of an encrypted fleet CA key, or the user PIN of a pkcs11: token. Masked; never printed.'
  },
  {
    name: 'pkcs11-module',
    description:
      'PKCS#11 module (shared library) for a pkcs11: fleet-ca-key whose URI has no module-path, e.g. /usr/lib/softhsm/libsofthsm2.so, yubihsm_pkcs11.so, opensc-pkcs11.so.'
  },
  {
    name: 'server-ca',
    description: "PEM text or path of the OTA server's CA, installed on the device as its trust root (root.crt)."
  },
  { name: 'gateway-url', description: 'Device gateway URL, installed on the device as gateway.url.' },
  {
    name: 'credentials-zip',
    description:
      "Path of OTA Connect's credentials.zip: its server_ca.pem (else the CA certificates of autoprov_credentials.p12) becomes root.crt and its autoprov.url becomes gateway.url. server-ca and gateway-url, when given, win. Nothing else is read from it."
  },
  {
    name: 'layout',
    default: 'aktualizr',
    description:
      "Files on the device: `aktualizr` (client.pem, pkey.pem, root.crt, gateway.url as aktualizr's DeviceCred import reads them) or `flat` (cert.pem, chain.pem, key.pem, ca.pem, gateway.url)."
  },
  { name: 'credentials-dir', default: '/var/sota/import', description: 'Directory on the device that receives the files.' },
  {
    name: 'key-type',
    default: 'ec-p256',
    description: 'Device key type: ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096 or ed25519.'
  },
  {
    name: 'validity-days',
    // No `default`: the runner would pass it even when not-after is set.
    impliedDefault: '365',
    description: 'Certificate lifetime in days; 365 when neither this nor not-after is set.'
  },
  {
    name: 'not-after',
    description: 'Certificate end as an RFC 3339 time (2030-01-01T00:00:00Z) or `never` (99991231235959Z, RFC 5280). Overrides validity-days.'
  },
  {
    name: 'subject',
    default: 'CN={device-id}',
    description: 'Subject DN template with {field} placeholders from the manifest row, e.g. `CN={device-id},O=Acme`.'
  },
  {
    name: 'san',
    description: 'Optional subjectAltName template, e.g. `DNS:{serial}.devices.example.com,URI:urn:dev:{device-id}`. No SAN extension when empty.'
  },
  {
    name: 'image',
    description: 'Base firmware image (.img, .wic, .sdimg, raw; .gz/.xz/.zst compressed too). Never modified.'
  },
  {
    name: 'partition',
    description:
      'Where in the image: a number (Linux numbering: 5 is the first logical MBR partition), `label=NAME` (file-system label) or `name=NAME` (GPT partition name). Default: the only ext2/3/4 partition.'
  },
  {
    name: 'ostree-os',
    description:
      "The OSTree stateroot (`/ostree/deploy/NAME`) whose /var receives the files when the target partition holds an OSTree sysroot (meta-updater's otaroot, Torizon). Needed when the sysroot has several stateroots; the only one is found by itself. With `tar` or `dir` outputs: the files carry sysroot paths (`ostree/deploy/NAME/var/…`, to extract into a mounted otaroot) instead of device paths. credentials-dir must be under /var on OSTree systems."
  },
  {
    name: 'format',
    description: `Output per device: ${listFormats()}. Default: ${defaultFormat(true).name} when \`image\` is set, else ${defaultFormat(false).name}.`
  },
  { name: 'compress', default: 'none', description: 'Compress image outputs: none, gz, xz or zst.' },
  {
    name: 'bmap',
    default: 'false',
    boolean: true,
    description:
      '`true`: write a block map (bmap 2.0, SHA-256 of every range) beside each image or partition output, `SERIAL.<ext>.bmap` named after the uncompressed image, for `bmaptool copy`.'
  },
  {
    name: 'exports',
    description:
      'Registration files for device registries, a comma list, written to output-dir/exports/ and listed in SHA256SUMS: `aws-iot` (aws-iot.jsonl and aws-iot-template.json for AWS IoT bulk registration) and `azure-dps` (azure-dps.jsonl, one Azure DPS individual enrollment per device). Rows whose device ID a named registry cannot take are refused before anything is issued. See docs/revocation-and-registries.md.'
  },
  { name: 'output-dir', default: 'credbake-out', description: 'Where outputs, the review manifest and the journal go.' },
  {
    name: 'crl',
    default: 'false',
    boolean: true,
    description:
      "`true`: after the bake, sign the fleet CA's CRL (with the same fleet-ca-key signer) of every certificate issued into output-dir that no device holds any more and of every revoked one, and write `crl.pem` and `crl.der` there. The fleet CA's keyUsage must include cRLSign (checked before anything is issued). With `merge`: sign one CRL for the merged set after the merge (then fleet-ca-cert and fleet-ca-key are needed)."
  },
  {
    name: 'crl-days',
    default: '7',
    description: "The CRL's nextUpdate, in days from now (1-365). Gateways refuse every client once it has passed: refresh the CRL before then (`credbake crl`)."
  },
  {
    name: 'reissue-revoked',
    description:
      'Comma list of device serials revoked with `credbake revoke` to issue a new certificate now. Without it a bake keeps a revoked device as it is (revoked, not baked again) and says so; the revoked certificate stays on the CRL either way.'
  },
  { name: 'shard', default: '1/1', description: 'Bake only shard i of n (`i/n`) of the manifest, deterministically by serial.' },
  {
    name: 'merge',
    description:
      'Instead of baking: glob(s) of shard manifests (one per line, relative to the workspace), e.g. `shards/*/credbake-manifest.json`, merged into output-dir as one review (manifest, certificates.pem, superseded.pem, SHA256SUMS; outputs hard-linked). Then manifest and the fleet CA inputs are not needed. Refuses shards of different device manifests, fleet CAs, profiles, layouts or formats, duplicate or overlapping shards and incomplete sets.'
  },
  {
    name: 'resume',
    default: 'true',
    boolean: true,
    description: 'Resume an interrupted run in the same output-dir (skip devices already complete).'
  },
  {
    name: 'overwrite',
    default: 'false',
    boolean: true,
    description: 'Allow baking into a non-empty output-dir when resume is false.'
  },
  { name: 'concurrency', default: '0', description: 'Worker threads for issuance; 0 means one per CPU core.' }
]
