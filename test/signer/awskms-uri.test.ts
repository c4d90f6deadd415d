import { describe, expect, it } from 'vitest'
import { FleetCaError } from '../../src/errors.js'
import { isAwsKmsReference, parseAwsKmsReference } from '../../src/signer/awskms-uri.js'

const ID = '1234abcd-12ab-34cd-56ef-1234567890ab'
const KEY_ARN = `arn:aws:kms:eu-west-1:111122223333:key/${ID}`
const ALIAS_ARN = 'arn:aws:kms:us-east-2:111122223333:alias/fleet-ca'

describe('awskms:// URIs', () => {
  it('recognises only awskms:// references', () => {
    expect(isAwsKmsReference('awskms:///alias/foo')).toBe(true)
    expect(isAwsKmsReference('  AWSKMS:///alias/foo')).toBe(true)
    expect(isAwsKmsReference('awskms:/alias/foo')).toBe(false)
    expect(isAwsKmsReference('pkcs11:token=a')).toBe(false)
    expect(isAwsKmsReference('-----BEGIN PRIVATE KEY-----')).toBe(false)
  })

  it.each([
    [`awskms:///alias/foo`, { keyId: 'alias/foo', kind: 'alias' }],
    [`awskms:///alias/team/fleet_ca-2`, { keyId: 'alias/team/fleet_ca-2', kind: 'alias' }],
    [`awskms://alias/foo`, { keyId: 'alias/foo', kind: 'alias' }],
    [`awskms:///${ID}`, { keyId: ID, kind: 'key-id' }],
    [`awskms:///mrk-1234abcd12ab34cd56ef1234567890ab`, { keyId: 'mrk-1234abcd12ab34cd56ef1234567890ab', kind: 'key-id' }],
    [`awskms:///${KEY_ARN}`, { keyId: KEY_ARN, kind: 'key-arn', region: 'eu-west-1' }],
    [`awskms://${KEY_ARN}`, { keyId: KEY_ARN, kind: 'key-arn', region: 'eu-west-1' }],
    [`awskms:///${ALIAS_ARN}`, { keyId: ALIAS_ARN, kind: 'alias-arn', region: 'us-east-2' }],
    [
      `awskms:///arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/${ID}`,
      { keyId: `arn:aws-us-gov:kms:us-gov-west-1:111122223333:key/${ID}`, kind: 'key-arn', region: 'us-gov-west-1' }
    ],
    [`awskms://localhost:4566/alias/foo`, { keyId: 'alias/foo', kind: 'alias', endpoint: 'http://localhost:4566' }],
    [`awskms://127.0.0.1:8080/${KEY_ARN}`, { keyId: KEY_ARN, kind: 'key-arn', region: 'eu-west-1', endpoint: 'http://127.0.0.1:8080' }],
    [`awskms://[::1]:9000/alias/foo`, { keyId: 'alias/foo', kind: 'alias', endpoint: 'http://[::1]:9000' }],
    [`awskms://kms.eu-west-1.amazonaws.com/${ID}`, { keyId: ID, kind: 'key-id', endpoint: 'https://kms.eu-west-1.amazonaws.com' }],
    [`awskms://vpce-0123.kms.eu-west-1.vpce.amazonaws.com:443/alias/x`, { keyId: 'alias/x', kind: 'alias', endpoint: 'https://vpce-0123.kms.eu-west-1.vpce.amazonaws.com:443' }],
    [`  awskms:///alias/foo\n`, { keyId: 'alias/foo', kind: 'alias' }]
  ])('parses %s', (text, expected) => {
    expect(parseAwsKmsReference(text)).toEqual(expected)
  })

  it.each([
    ['awskms://', /key is missing/],
    ['awskms:///', /key after the endpoint is missing/],
    ['awskms://localhost:4566/', /key after the endpoint is missing/],
    [`awskms://${ID}`, /awskms:\/\/\/1234abcd/],
    ['awskms:///alias/', /not a KMS alias name/],
    ['awskms:///alias/has space', /spaces/],
    ['awskms:///alias/a?x=1', /"\?"/],
    ['awskms:///fleet-ca', /not a key ID, key ARN, alias\/NAME or alias ARN/],
    ['awskms:///arn:aws:kms:eu-west-1:1111:key/' + ID, /ARN is not/],
    ['awskms:///arn:aws:kms:eu-west-1:111122223333:key/not-an-id', /not a key ID/],
    ['awskms:///arn:aws:s3:::bucket/key', /ARN is not/],
    [`awskms://http://localhost:4566/alias/foo`, /takes no scheme/],
    [`awskms://host:99999/alias/foo`, /out of range/],
    [`awskms://bad_host!/alias/foo`, /is not host\[:port\]/],
    ['awskms:/alias/foo', /does not start with awskms:\/\//]
  ])('refuses %s', (text, why) => {
    let thrown: unknown
    try {
      parseAwsKmsReference(text)
    } catch (error) {
      thrown = error
    }
    expect(thrown).toBeInstanceOf(FleetCaError)
    const error = thrown as FleetCaError
    expect(error.input).toBe('fleet-ca-key')
    expect(error.message).toMatch(/^fleet-ca-key "/)
    expect(error.message).toMatch(why)
  })
})
