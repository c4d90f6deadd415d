// Every kind of fleet CA signer, and the one function that picks and opens the right one for a
// fleet-ca-key value: a PEM key (text), `pkcs11:` (RFC 7512), `awskms://` or `exec:PATH`.
import { FleetCaError } from '../errors.js'
import { KEY_URI_SCHEMES } from '../settings/types.js'
import { awsKmsSignerFactory } from './awskms.js'
import { execSignerFactory } from './exec.js'
import { pemSignerFactory } from './pem.js'
import { pkcs11SignerFactory } from './pkcs11.js'
import type { CaSigner, SignerFactory, SignerOpenContext } from './types.js'

export const SIGNER_FACTORIES: readonly SignerFactory[] = [pemSignerFactory, pkcs11SignerFactory, awsKmsSignerFactory, execSignerFactory]

export async function openSigner(reference: string, context: SignerOpenContext): Promise<CaSigner> {
  const factory = SIGNER_FACTORIES.find((candidate) => candidate.accepts(reference))
  if (!factory) {
    throw new FleetCaError(`fleet-ca-key is neither a PEM private key nor a key URI (${Object.values(KEY_URI_SCHEMES).join(', ')}PATH)`, { input: 'fleet-ca-key' })
  }
  return factory.open(reference, context)
}
