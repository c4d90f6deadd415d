// `credbake crl --output-dir DIR --fleet-ca-cert PEM|FILE --fleet-ca-key KEY [--crl-days N]`:
// sign a fresh CRL for an output-dir (src/revocation/refresh.ts).
import { EXIT_CODES, InputError } from '../errors.js'
import { refreshCrl } from '../revocation/refresh.js'
import { defaultOf, readKeyReference, readPem } from '../settings/parse.js'
import { parseCrlDays } from '../settings/crl-days.js'
import path from 'node:path'
import type { Console } from './console.js'
import type { FlagSpec, ParsedFlags } from './flags.js'

export const CRL_FLAGS: FlagSpec = {
  command: 'crl',
  strings: ['output-dir', 'fleet-ca-cert', 'fleet-ca-key', 'fleet-ca-key-passphrase', 'pkcs11-module', 'crl-days']
}

export const CRL_HELP = `Usage: credbake crl --output-dir DIR --fleet-ca-cert PEM|FILE --fleet-ca-key KEY [--crl-days N]

Sign the fleet CA's certificate revocation list for DIR and write DIR/crl.pem and DIR/crl.der:
every certificate credbake issued into DIR that no device holds any more (superseded: reissued,
redone, overwritten, never written, or its device left the manifest) and every certificate
revoked with credbake revoke (with the reason given there). Its cRLNumber is one more than any
CRL of DIR before (kept in the journal), thisUpdate five minutes back, nextUpdate --crl-days
ahead. The review manifest is written again with the CRL's number and entry count.

Gateways refuse every client once nextUpdate has passed: run this again well before then (e.g.
daily with --crl-days 7), install the new crl.pem and reload the gateway.
docs/revocation-and-registries.md has the nginx configuration and a scheduled workflow.

Options:
  --output-dir DIR                  the bake's output-dir (default: ${defaultOf('output-dir')})
  --fleet-ca-cert PEM|FILE          the fleet CA that issued the certificates (its keyUsage must
                                    include cRLSign)
  --fleet-ca-key KEY                its key: PEM text or file, pkcs11:, awskms:// or exec: (as bake)
  --fleet-ca-key-passphrase TEXT    passphrase of an encrypted PEM key, or the PKCS#11 user PIN
                                    (prefer CREDBAKE_FLEET_CA_KEY_PASSPHRASE)
  --pkcs11-module PATH              PKCS#11 module, when the pkcs11: URI has no module-path
  --crl-days N                      nextUpdate in days, 1 to 365 (default: ${defaultOf('crl-days')})

Every option can also come from the environment (CREDBAKE_FLEET_CA_KEY, ...).
`

export async function crlCommand({ values }: ParsedFlags, out: Console): Promise<number> {
  const cert = values['fleet-ca-cert']
  const key = values['fleet-ca-key']
  if (!cert) throw new InputError('crl needs --fleet-ca-cert (the fleet CA that issued the certificates)', { input: 'fleet-ca-cert' })
  if (!key) throw new InputError('crl needs --fleet-ca-key (PEM key, pkcs11:, awskms:// or exec:, as for bake)', { input: 'fleet-ca-key' })
  const resolvePath = (value: string): string => path.resolve(process.cwd(), value)
  const days = parseCrlDays(values['crl-days'] ?? defaultOf('crl-days'))
  const result = await refreshCrl({
    outputDir: resolvePath(values['output-dir'] ?? defaultOf('output-dir')),
    fleetCaCert: readPem('fleet-ca-cert', cert, resolvePath, false),
    fleetCaKey: readKeyReference(key, resolvePath),
    ...(values['fleet-ca-key-passphrase'] ? { passphrase: values['fleet-ca-key-passphrase'] } : {}),
    ...(values['pkcs11-module'] ? { pkcs11Module: values['pkcs11-module'] } : {}),
    days,
    warn: (message) => out.stderr(`warning: ${message}\n`)
  })
  out.stdout(
    [
      `crl number:       ${result.record.number}`,
      `entries:          ${result.record.entries} (${result.revoked} revoked, ${result.superseded} superseded)`,
      `next update:      ${result.record.nextUpdate}`,
      `crl:              ${result.pemPath}`,
      `crl (DER):        ${result.derPath}`,
      ''
    ].join('\n')
  )
  return EXIT_CODES.ok
}
