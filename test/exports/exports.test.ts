// Registration exports (src/exports) for devices issued by credbake's own issuance, checked against
// JSON Schemas written from AWS's and Microsoft's documentation (test/fixtures/exports), and
// against the certificates themselves as openssl reads them.
import { execFileSync } from 'node:child_process'
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import Ajv2020 from 'ajv/dist/2020.js'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import { AWS_TEMPLATE_BODY_LIMIT, awsIotExport, awsIotLine, awsIotTemplate, checkAwsThingName } from '../../src/exports/aws-iot.js'
import { azureDpsExport, azureDpsLine, checkAzureRegistrationId } from '../../src/exports/azure-dps.js'
import { parseExports, REGISTRY_EXPORTS } from '../../src/exports/registration.js'
import type { RegistryDevice } from '../../src/exports/types.js'
import { buildProfile } from '../../src/issue/profile.js'
import { EXPORT_NAMES } from '../../src/settings/types.js'
import { cleanupPki, makeIntermediateCa, makeRootCa, type CaFixture, type FixtureKeyType } from '../helpers/pki.js'
import { ROOT } from '../helpers/run.js'
import { DAYS_30, issueCredential, loadFixtureCa, makeDevice } from '../issue/support.js'

// strictRequired off: the schemas say "not together" with required lists inside not/oneOf.
const ajv = new Ajv2020.default({ allErrors: true, strict: true, strictRequired: false })
function schema(name: string) {
  return ajv.compile(JSON.parse(readFileSync(path.join(ROOT, 'test/fixtures/exports', name), 'utf8')))
}
const awsLineSchema = schema('aws-iot-line.schema.json')
const awsTemplateSchema = schema('aws-iot-template.schema.json')
const azureSchema = schema('azure-dps-enrollment.schema.json')

function valid(validate: ReturnType<typeof schema>, value: unknown): string {
  return validate(value) ? 'valid' : ajv.errorsText(validate.errors)
}

/** The CN as openssl reads it from the certificate (not from credbake's own records). */
function opensslCommonName(pem: string): string {
  const subject = execFileSync('openssl', ['x509', '-noout', '-subject', '-nameopt', 'RFC2253'], { input: pem }).toString('utf8')
  return /CN=([^,\n]+)/.exec(subject)?.[1] ?? ''
}

const DEVICE_IDS = ['SN-0001', 'urn:acme:sensor:42', 'gw_7-b', 'node-9']

let root: CaFixture
let fleet: CaFixture
let devices: RegistryDevice[]

beforeAll(() => {
  root = makeRootCa({ keyType: 'ec-p384' })
  fleet = makeIntermediateCa(root, { keyType: 'ec-p256', subject: '/CN=Acme fleet CA/O=Acme' })
  const ca = loadFixtureCa(fleet)
  const profile = buildProfile({ keyType: 'ec-p256', subject: 'CN={device-id},O=Acme', lifetime: DAYS_30 }, ca)
  devices = DEVICE_IDS.map((deviceId, i) => {
    const issued = issueCredential(ca, profile, makeDevice(`SER-${i}`, { 'device-id': deviceId }))
    return { serial: issued.device.serial, deviceId, certificatePem: issued.certificatePem, commonName: /CN=([^,]+)/.exec(issued.subject)?.[1] }
  })
})
afterAll(cleanupPki)

describe('AWS IoT bulk registration', () => {
  it('one line per device: each validates, ThingName is the device ID (= the CN), with its own certificate', () => {
    const lines = devices.map((device) => JSON.parse(awsIotLine(device)))
    for (const line of lines) expect(valid(awsLineSchema, line)).toBe('valid')
    expect(lines.map((line) => line.ThingName)).toEqual(DEVICE_IDS)
    expect(lines.map((line) => line.ThingName)).toEqual(lines.map((line) => opensslCommonName(line.CertificatePem)))
    expect(lines.map((line) => line.SerialNumber)).toEqual(devices.map((device) => device.serial))
    const fingerprints = lines.map((line) => new X509Certificate(line.CertificatePem).fingerprint256)
    expect(fingerprints).toEqual(devices.map((device) => new X509Certificate(device.certificatePem).fingerprint256))
    expect(new Set(fingerprints).size).toBe(devices.length)
    // The device certificate alone: issued by the fleet CA, no chain in the line.
    for (const line of lines) expect(line.CertificatePem.match(/BEGIN CERTIFICATE/g)).toHaveLength(1)
    for (const device of devices) expect(awsIotLine(device)).not.toContain('\n')
  })

  it('the template validates, is under 10,240 characters, declares exactly the parameters the lines give, and names the fleet CA', () => {
    const text = awsIotTemplate(fleet.certPem)
    expect(text.length).toBeLessThan(AWS_TEMPLATE_BODY_LIMIT)
    const template = JSON.parse(text)
    expect(valid(awsTemplateSchema, template)).toBe('valid')
    const declared = Object.keys(template.Parameters).sort()
    const refs = [...text.matchAll(/"Ref": "([^"]+)"/g)].map((match) => match[1]).sort()
    expect(refs).toEqual(declared)
    for (const device of devices) expect(Object.keys(JSON.parse(awsIotLine(device))).sort()).toEqual(declared)
    expect(template.Resources.certificate.Properties.CACertificatePem).toBe(fleet.certPem)
    expect(template.Resources.certificate.Properties.Status).toBe('ACTIVE')
    expect(template.Resources.thing.Properties.ThingName).toEqual({ Ref: 'ThingName' })
    expect(awsIotExport.caFiles(fleet.certPem)).toEqual([{ path: 'exports/aws-iot-template.json', text }])
  })

  it.each<[FixtureKeyType]>([['ec-p256'], ['ec-p384'], ['rsa-4096'], ['ed25519']])('the template stays under the limit with a %s fleet CA and a long subject', (keyType) => {
    const long = makeRootCa({ keyType, subject: `/CN=${'Fleet CA '.repeat(7)}/O=${'Acme Devices '.repeat(4)}/OU=${'Production line '.repeat(3)}` })
    const text = awsIotTemplate(long.certPem, { policyName: 'fleet-device-policy' })
    expect(valid(awsTemplateSchema, JSON.parse(text))).toBe('valid')
    expect(text.length).toBeLessThan(AWS_TEMPLATE_BODY_LIMIT)
  })

  it('an existing policy can be attached by name', () => {
    const template = JSON.parse(awsIotTemplate(fleet.certPem, { policyName: 'fleet-device-policy' }))
    expect(template.Resources.policy).toEqual({ Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'fleet-device-policy' } })
    expect(valid(awsTemplateSchema, template)).toBe('valid')
  })

  it('a template past the limit is an InputError naming exports', () => {
    const huge = `-----BEGIN CERTIFICATE-----\n${'QUJD'.repeat(16).concat('\n').repeat(160)}-----END CERTIFICATE-----\n`
    expect(() => awsIotTemplate(huge)).toThrow(InputError)
    expect(() => awsIotTemplate(huge)).toThrow(/characters with this fleet CA certificate; StartThingRegistrationTask takes at most 10240/)
  })

  it.each<[string, string | null]>([
    ['SN-0001', null],
    ['urn:acme:42', null],
    ['a'.repeat(128), null],
    ['a'.repeat(129), 'the device ID is 129 characters; an AWS IoT thing name holds at most 128'],
    ['sensor.42', 'the device ID holds "."; an AWS IoT thing name allows only letters, digits, ":", "_" and "-"'],
    ['', 'the device ID is empty, and AWS IoT needs a thing name']
  ])('thing name %j', (deviceId, reason) => {
    expect(checkAwsThingName(deviceId)).toBe(reason)
    expect(awsIotExport.check({ deviceId, commonName: deviceId })).toBe(reason)
    // The schema written from AWS's page agrees with the check.
    const line = { ThingName: deviceId, SerialNumber: 'S1', CertificatePem: devices[0]?.certificatePem }
    expect(valid(awsLineSchema, line) === 'valid').toBe(reason === null)
  })

  it('the schema is strict: a misspelt parameter or a chain in CertificatePem fails', () => {
    const device = devices[0] as RegistryDevice
    expect(valid(awsLineSchema, { ThingName: 'x', SerialNumber: 'S', CertificatePEM: device.certificatePem })).not.toBe('valid')
    expect(valid(awsLineSchema, { ThingName: 'x', SerialNumber: 'S', CertificatePem: device.certificatePem + fleet.certPem })).not.toBe('valid')
    const template = JSON.parse(awsIotTemplate(fleet.certPem))
    template.Resources.certificate.Properties.CertificateSigningRequest = { Ref: 'CSR' }
    expect(valid(awsTemplateSchema, template)).not.toBe('valid')
  })
})

describe('Azure DPS individual enrollments', () => {
  it('one enrollment per device: each validates, registrationId is the CN openssl reads, the device certificate is primary', () => {
    const lines = devices.map((device) => JSON.parse(azureDpsLine(device)))
    for (const line of lines) expect(valid(azureSchema, line)).toBe('valid')
    expect(lines.map((line) => line.registrationId)).toEqual(devices.map((device) => opensslCommonName(device.certificatePem)))
    expect(lines.map((line) => line.deviceId)).toEqual(DEVICE_IDS)
    expect(lines.map((line) => line.attestation.type)).toEqual(DEVICE_IDS.map(() => 'x509'))
    expect(lines.map((line) => line.provisioningStatus)).toEqual(DEVICE_IDS.map(() => 'enabled'))
    const primaries = lines.map((line) => new X509Certificate(line.attestation.x509.clientCertificates.primary.certificate).fingerprint256)
    expect(primaries).toEqual(devices.map((device) => new X509Certificate(device.certificatePem).fingerprint256))
    for (const device of devices) expect(azureDpsLine(device)).not.toContain('\n')
    expect(azureDpsExport.caFiles(fleet.certPem)).toEqual([])
  })

  it.each<[string | undefined, string | null]>([
    ['device-01', null],
    ['a', null],
    ['SN.0001_b:c3', null],
    ['SN-0001-', 'the CN ends with "-"; an Azure DPS registration ID must end with a letter or a digit'],
    ['-SN-0001', 'the CN starts with "-"; an Azure DPS registration ID must start with a letter or a digit'],
    ['.hidden', 'the CN starts with "."; an Azure DPS registration ID must start with a letter or a digit'],
    ['urn:acme:42', null],
    ['A'.repeat(64), null],
    ['A'.repeat(65), 'the CN is 65 characters; an Azure DPS registration ID from a certificate holds at most 64'],
    ['device_', 'the CN ends with "_"; an Azure DPS registration ID must end with a letter or a digit'],
    ['device.', 'the CN ends with "."; an Azure DPS registration ID must end with a letter or a digit'],
    ['device:', 'the CN ends with ":"; an Azure DPS registration ID must end with a letter or a digit'],
    ['my device', 'the CN holds " "; an Azure DPS registration ID allows only letters, digits, "-", ".", "_" and ":"'],
    ['dévice/1', 'the CN holds "é", "/"; an Azure DPS registration ID allows only letters, digits, "-", ".", "_" and ":"'],
    ['', 'the certificate has no CN, and Azure DPS takes the registration ID from the CN'],
    [undefined, 'the certificate has no CN, and Azure DPS takes the registration ID from the CN']
  ])('registration ID %j', (commonName, reason) => {
    expect(checkAzureRegistrationId(commonName)).toBe(reason)
    expect(azureDpsExport.check({ deviceId: 'd', commonName })).toBe(reason)
    // The schema written from Microsoft's page agrees with the check.
    const line = JSON.parse(azureDpsLine({ ...(devices[0] as RegistryDevice), commonName }))
    expect(valid(azureSchema, line) === 'valid').toBe(reason === null)
  })
})

describe('the exports input', () => {
  it('a comma list of known names, each once', () => {
    expect(parseExports(undefined)).toEqual([])
    expect(parseExports('azure-dps, aws-iot,azure-dps').map((item) => item.name)).toEqual(['aws-iot', 'azure-dps'])
    expect(REGISTRY_EXPORTS.map((item) => item.jsonlPath)).toEqual(['exports/aws-iot.jsonl', 'exports/azure-dps.jsonl'])
    // The settings know the same names, in the same order.
    expect(REGISTRY_EXPORTS.map((item) => item.name)).toEqual([...EXPORT_NAMES])
    expect(() => parseExports('aws-iot,gcp-iot')).toThrow('exports: "gcp-iot" is not one of aws-iot, azure-dps')
  })
})
