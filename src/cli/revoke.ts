// `credbake revoke --output-dir DIR (--serial SERIAL | --certificate-serial HEX) [--reason R]`:
// journal the revocation of a device's live certificate (src/revocation/revoke.ts).
import path from 'node:path'
import { EXIT_CODES } from '../errors.js'
import { revokeDevice } from '../revocation/revoke.js'
import { defaultOf } from '../settings/parse.js'
import { parseRevokeReason, REVOKE_REASONS } from '../x509/crl-reasons.js'
import type { Console } from './console.js'
import type { FlagSpec, ParsedFlags } from './flags.js'

export const REVOKE_FLAGS: FlagSpec = { command: 'revoke', strings: ['output-dir', 'serial', 'certificate-serial', 'reason'] }

export const REVOKE_HELP = `Usage: credbake revoke --output-dir DIR (--serial SERIAL | --certificate-serial HEX) [--reason R]

Revoke the live certificate of one device baked into DIR (a stolen, sold or retired device): the
revocation is journaled, the review manifest is written again with the device marked revoked
(reason and time), credbake verify accepts that state, and the next CRL (credbake crl, or a bake
with crl: true) lists the certificate with the reason. A later bake keeps the device revoked and
does not bake it again; to issue it a new certificate on purpose, name it in reissue-revoked.

Nothing reaches a gateway until the CRL is signed: run credbake crl next.

Options:
  --output-dir DIR            the bake's output-dir (default: ${defaultOf('output-dir')})
  --serial SERIAL             the device, by its serial in the device manifest
  --certificate-serial HEX    or the certificate, by its serial number (as openssl x509 -serial
                              prints it; colons and 0x allowed)
  --reason R                  ${Object.keys(REVOKE_REASONS).join(', ')}; left out, the CRL
                              entry has no reason code (unspecified)

Refused (exit 2): a serial or certificate this output-dir did not issue, a device without a live
certificate, a certificate already revoked (the message says when and why).
`

export async function revokeCommand({ values }: ParsedFlags, out: Console): Promise<number> {
  const reason = parseRevokeReason(values.reason)
  const result = await revokeDevice({
    outputDir: path.resolve(process.cwd(), values['output-dir'] ?? defaultOf('output-dir')),
    ...(values.serial !== undefined ? { serial: values.serial } : {}),
    ...(values['certificate-serial'] !== undefined ? { certificateSerial: values['certificate-serial'] } : {}),
    reason,
    warn: (message) => out.stderr(`warning: ${message}\n`)
  })
  const { record } = result
  out.stdout(
    [
      `revoked:          device ${record.serial}, certificate ${record.serialNumber} (${record.reason}) at ${record.at}`,
      ...(result.review ? [`manifest:         ${result.review.manifest}`] : []),
      'next:             credbake crl signs a CRL that lists it',
      ''
    ].join('\n')
  )
  return EXIT_CODES.ok
}
