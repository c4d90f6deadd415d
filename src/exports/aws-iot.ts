// AWS IoT Core bulk registration (StartThingRegistrationTask): a provisioning template that
// registers each device certificate as issued by the fleet CA and creates a thing for it, and a
// newline-delimited JSON file with one device's parameter values per line. Field names as in AWS's
// "Provisioning templates" and "Bulk registration" pages; test/fixtures/exports/*.schema.json
// holds the same rules as JSON Schemas.
import { InputError } from '../errors.js'
import type { RegistryDevice, RegistryExport } from './types.js'

/** StartThingRegistrationTask's templateBody: at most 10,240 characters. */
export const AWS_TEMPLATE_BODY_LIMIT = 10_240

/** CreateThing's thingName: 1–128 of letters, digits, `:`, `_` and `-` (no `.`). */
const THING_NAME = /^[A-Za-z0-9:_-]{1,128}$/

/** Why a device ID cannot be a thing name, or null. */
export function checkAwsThingName(deviceId: string): string | null {
  if (THING_NAME.test(deviceId)) return null
  if (deviceId.length === 0) return 'the device ID is empty, and AWS IoT needs a thing name'
  if (deviceId.length > 128) return `the device ID is ${deviceId.length} characters; an AWS IoT thing name holds at most 128`
  const bad = [...new Set(deviceId.replace(/[A-Za-z0-9:_-]/g, ''))].map((character) => JSON.stringify(character)).join(', ')
  return `the device ID holds ${bad}; an AWS IoT thing name allows only letters, digits, ":", "_" and "-"`
}

/** The parameter values of one device, as one line of the bulk registration file. */
export function awsIotLine(device: RegistryDevice): string {
  return JSON.stringify({ ThingName: device.deviceId, SerialNumber: device.serial, CertificatePem: device.certificatePem })
}

export interface AwsIotTemplateOptions {
  /** Attach this existing AWS IoT policy to every certificate (AWS::IoT::Policy by PolicyName). */
  policyName?: string
}

/**
 * The provisioning template: each certificate registered ACTIVE as signed by the fleet CA (which
 * must be registered with AWS IoT), and a thing named by the device ID with the serial as an
 * attribute. Without a policy the devices can connect to nothing: pass `policyName`, or add one.
 */
export function awsIotTemplate(fleetCaPem: string, options: AwsIotTemplateOptions = {}): string {
  const resources: Record<string, unknown> = {
    thing: {
      Type: 'AWS::IoT::Thing',
      Properties: { ThingName: { Ref: 'ThingName' }, AttributePayload: { serialNumber: { Ref: 'SerialNumber' } } }
    },
    certificate: {
      Type: 'AWS::IoT::Certificate',
      Properties: { CACertificatePem: fleetCaPem, CertificatePem: { Ref: 'CertificatePem' }, Status: 'ACTIVE' }
    }
  }
  if (options.policyName !== undefined) resources.policy = { Type: 'AWS::IoT::Policy', Properties: { PolicyName: options.policyName } }
  const body = `${JSON.stringify(
    {
      Parameters: { ThingName: { Type: 'String' }, SerialNumber: { Type: 'String' }, CertificatePem: { Type: 'String' } },
      Resources: resources
    },
    null,
    2
  )}\n`
  if (body.length > AWS_TEMPLATE_BODY_LIMIT) {
    throw new InputError(
      `exports: the AWS IoT provisioning template would be ${body.length} characters with this fleet CA certificate; StartThingRegistrationTask takes at most ${AWS_TEMPLATE_BODY_LIMIT}`,
      { input: 'exports' }
    )
  }
  return body
}

export const awsIotExport: RegistryExport = {
  name: 'aws-iot',
  jsonlPath: 'exports/aws-iot.jsonl',
  caFilePaths: ['exports/aws-iot-template.json'],
  check: (device) => checkAwsThingName(device.deviceId),
  line: awsIotLine,
  caFiles: (fleetCaPem) => [{ path: 'exports/aws-iot-template.json', text: awsIotTemplate(fleetCaPem) }]
}
