// Azure IoT Hub Device Provisioning Service: one individual enrollment per line, in the shape of the
// DPS service REST API's IndividualEnrollment (api-version 2021-10-01) that the bulk call
// (POST /enrollments, at most 10 per call), `az iot dps enrollment create` and the service SDKs
// take. DPS matches a device's X.509 certificate to its enrollment by the subject CN, which must
// be the registration ID: checkAzureRegistrationId refuses a CN DPS would not accept.
import type { RegistryDevice, RegistryExport } from './types.js'

/** An X.509 common name holds at most 64 characters, so a registration ID taken from one does too. */
export const AZURE_REGISTRATION_ID_MAX = 64

const ALLOWED = /^[A-Za-z0-9._:-]+$/

/**
 * Why `commonName` cannot be a DPS registration ID, or null. DPS: a case-insensitive string of
 * alphanumerics and `-` `.` `_` `:`, at most 64 characters when it comes from a certificate's CN.
 * The X.509 attestation page lets the last character be alphanumeric or `-`; the service REST API
 * (an individual enrollment's ID, which is its registration ID) allows no special character at the
 * start or the end. Both are applied, so every line of the export can be created.
 */
export function checkAzureRegistrationId(commonName: string | undefined): string | null {
  if (commonName === undefined || commonName === '') return 'the certificate has no CN, and Azure DPS takes the registration ID from the CN'
  if (commonName.length > AZURE_REGISTRATION_ID_MAX) {
    return `the CN is ${commonName.length} characters; an Azure DPS registration ID from a certificate holds at most ${AZURE_REGISTRATION_ID_MAX}`
  }
  if (!ALLOWED.test(commonName)) {
    const bad = [...new Set(commonName.replace(/[A-Za-z0-9._:-]/g, ''))].map((character) => JSON.stringify(character)).join(', ')
    return `the CN holds ${bad}; an Azure DPS registration ID allows only letters, digits, "-", ".", "_" and ":"`
  }
  if (!/^[A-Za-z0-9]/.test(commonName)) return `the CN starts with ${JSON.stringify(commonName[0])}; an Azure DPS registration ID must start with a letter or a digit`
  if (!/[A-Za-z0-9]$/.test(commonName)) return `the CN ends with ${JSON.stringify(commonName.slice(-1))}; an Azure DPS registration ID must end with a letter or a digit`
  return null
}

/** One individual enrollment with X.509 attestation: the device certificate as its primary client certificate. */
export function azureDpsLine(device: RegistryDevice): string {
  return JSON.stringify({
    registrationId: device.commonName,
    deviceId: device.deviceId,
    attestation: { type: 'x509', x509: { clientCertificates: { primary: { certificate: device.certificatePem.trimEnd() } } } },
    provisioningStatus: 'enabled'
  })
}

export const azureDpsExport: RegistryExport = {
  name: 'azure-dps',
  jsonlPath: 'exports/azure-dps.jsonl',
  caFilePaths: [],
  check: (device) => checkAzureRegistrationId(device.commonName),
  idsIgnoreCase: 'Azure DPS registration IDs',
  line: azureDpsLine,
  caFiles: () => []
}
