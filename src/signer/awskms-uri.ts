// `awskms://[ENDPOINT/]KEY`, the form cosign uses for AWS KMS keys.
//
//   awskms:///alias/fleet-ca                                   no endpoint: the region's public one
//   awskms:///1234abcd-12ab-34cd-56ef-1234567890ab             key ID
//   awskms:///arn:aws:kms:eu-west-1:111122223333:key/1234…      key ARN (the region comes from it)
//   awskms:///arn:aws:kms:eu-west-1:111122223333:alias/fleet   alias ARN
//   awskms://kms.eu-west-1.amazonaws.com/alias/fleet           an explicit endpoint (https)
//   awskms://localhost:4566/alias/fleet                        loopback endpoints are plain http
//
// ENDPOINT is `host[:port]` with no scheme (as in cosign). It is reached over https, except
// `localhost`, `127.0.0.1` (any 127.x address) and `[::1]`, which are reached over http: a
// KMS-compatible server on the runner itself (LocalStack, a test server) speaks plain http, and
// nothing leaves the machine. `awskms://alias/NAME` and `awskms://arn:…` (no empty endpoint
// before the key) are accepted too, since neither can be read as an endpoint.
import { FleetCaError } from '../errors.js'
import { KEY_URI_SCHEMES, keyUriScheme } from '../settings/types.js'

export const AWSKMS_SCHEME = KEY_URI_SCHEMES.awskms

export type AwsKmsKeyKind = 'key-id' | 'key-arn' | 'alias' | 'alias-arn'

export interface AwsKmsReference {
  /** The KeyId the KMS API is given: the key ID, key ARN, `alias/NAME` or alias ARN as written. */
  keyId: string
  kind: AwsKmsKeyKind
  /** Region of an ARN; undefined for key IDs and aliases (the SDK's region chain decides). */
  region?: string
  /** `https://host[:port]` or `http://` for loopback hosts; undefined: the region's endpoint. */
  endpoint?: string
}

const KEY_ID = /^(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})$/i
// Alias names: letters, digits, `/`, `_`, `-` (KMS's own rule), up to 256 characters.
const ALIAS = /^alias\/[A-Za-z0-9/_-]{1,250}$/
const ARN = /^arn:(aws[a-z-]*):kms:([a-z0-9-]+):(\d{12}):(key|alias)\/(.+)$/
const HOST_PORT = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?))(?::(\d{1,5}))?$/

export function isAwsKmsReference(reference: string): boolean {
  return keyUriScheme(reference) === 'awskms'
}

/** Parse a `fleet-ca-key` value of the form `awskms://[ENDPOINT/]KEY`; FleetCaError naming the problem. */
export function parseAwsKmsReference(reference: string): AwsKmsReference {
  const text = reference.trim()
  if (!isAwsKmsReference(text)) throw invalid(text, `it does not start with ${AWSKMS_SCHEME}`)
  const rest = text.slice(AWSKMS_SCHEME.length)
  if (rest.length === 0) throw invalid(text, 'the key is missing')
  if (/[\s?#]/.test(rest)) throw invalid(text, 'it holds spaces, "?" or "#"; the form is awskms://[ENDPOINT/]KEY')

  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(rest)) {
    throw invalid(text, 'the endpoint takes no scheme (host[:port]); loopback hosts are reached over http, others over https')
  }

  let endpointText: string
  let keyText: string
  if (rest.startsWith('alias/') || rest.startsWith('arn:')) {
    endpointText = ''
    keyText = rest
  } else {
    const slash = rest.indexOf('/')
    if (slash < 0) {
      if (KEY_ID.test(rest)) throw invalid(text, `write the key ID after an empty endpoint: awskms:///${rest}`)
      throw invalid(text, 'the form is awskms://[ENDPOINT/]KEY, e.g. awskms:///alias/fleet-ca')
    }
    endpointText = rest.slice(0, slash)
    keyText = rest.slice(slash + 1)
  }
  if (keyText.length === 0) throw invalid(text, 'the key after the endpoint is missing')

  const key = parseKey(text, keyText)
  const endpoint = endpointText === '' ? undefined : parseEndpoint(text, endpointText)
  return { ...key, ...(endpoint === undefined ? {} : { endpoint }) }
}

function parseKey(text: string, keyText: string): Omit<AwsKmsReference, 'endpoint'> {
  if (KEY_ID.test(keyText)) return { keyId: keyText, kind: 'key-id' }
  if (keyText.startsWith('alias/')) {
    if (!ALIAS.test(keyText)) throw invalid(text, `alias "${keyText}" is not a KMS alias name (letters, digits, "/", "_" and "-")`)
    return { keyId: keyText, kind: 'alias' }
  }
  if (keyText.startsWith('arn:')) {
    const match = ARN.exec(keyText)
    if (!match) throw invalid(text, 'the ARN is not arn:aws:kms:REGION:ACCOUNT:key/ID or arn:aws:kms:REGION:ACCOUNT:alias/NAME')
    const [, , region, , type, name] = match
    if (type === 'key' && !KEY_ID.test(name!)) throw invalid(text, `"${name}" in the key ARN is not a key ID`)
    if (type === 'alias' && !ALIAS.test(`alias/${name}`)) throw invalid(text, `alias "${name}" in the ARN is not a KMS alias name`)
    return { keyId: keyText, kind: type === 'key' ? 'key-arn' : 'alias-arn', region: region! }
  }
  throw invalid(text, `"${keyText}" is not a key ID, key ARN, alias/NAME or alias ARN`)
}

function parseEndpoint(text: string, endpointText: string): string {
  const match = HOST_PORT.exec(endpointText)
  if (!match) throw invalid(text, `endpoint "${endpointText}" is not host[:port]`)
  const [, ipv6, host, portText] = match
  if (portText !== undefined) {
    const port = Number(portText)
    if (port < 1 || port > 65535) throw invalid(text, `port ${portText} of the endpoint is out of range`)
  }
  const loopback = ipv6 !== undefined ? ipv6 === '::1' : host!.toLowerCase() === 'localhost' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host!)
  return `${loopback ? 'http' : 'https'}://${endpointText.toLowerCase()}`
}

function invalid(text: string, why: string): FleetCaError {
  return new FleetCaError(`fleet-ca-key "${text}" is not a usable AWS KMS key URI: ${why}.`, { input: 'fleet-ca-key' })
}
