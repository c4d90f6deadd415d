// Raw inputs (action inputs or CLI flags, both plain strings) → one validated Settings object.
// All option errors surface here, before any key is generated or file written.
import { X509Certificate } from 'node:crypto'
import { existsSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { InputError, ManifestError, messageOf } from '../errors.js'
import { defaultFormat, FORMAT_NAMES, OUTPUT_FORMATS, outputFormat } from '../formats/registry.js'
import { parseShard } from './shard.js'
import { isStaterootName, ostreePathRefusal } from '../placement/ostree.js'
import { checkBoundedFileSync, formatSize, INPUT_LIMITS, readBoundedTextSync, ReadLimitError, whyUnreadable } from '../util/bounded-read.js'
import { escapeText } from '../util/log-text.js'
import { longComponent, PATH_LIMITS, utf8Bytes } from '../util/path-limits.js'
import { describeOrigin, readPemBlocks } from '../util/pem.js'
import { misleadingCharIn } from '../util/text-class.js'
import { readCredentialsZip } from './credentials-zip.js'
import { INPUTS } from './inputs.js'
import { parseCrlDays } from './crl-days.js'
import {
  COMPRESSIONS,
  EXPORT_NAMES,
  type ExportName,
  KEY_URI_SCHEMES,
  keyUriScheme,
  KEY_TYPES,
  LAYOUTS,
  type Lifetime,
  type PartitionSelector,
  type PemSource,
  type Settings
} from './types.js'

/** Input name → raw value; missing and empty mean "not given". */
export type RawInputs = Readonly<Record<string, string | undefined>>

export interface ParseContext {
  /** Relative paths resolve against this (GITHUB_WORKSPACE in the action, cwd in the CLI). */
  baseDir: string
  /** RUNNER_TEMP in the action; the OS temp dir otherwise. */
  tempRoot?: string
}

const MAX_VALIDITY_DAYS = 100 * 366

/**
 * The default src/settings/inputs.ts declares for an input (its `default`, else its
 * `impliedDefault`): defaults live in that table only, never here.
 */
export function defaultOf(name: string): string {
  const input = INPUTS.find((spec) => spec.name === name)
  const value = input?.default ?? input?.impliedDefault
  if (value === undefined) throw new Error(`src/settings/inputs.ts declares no default for input "${name}"`)
  return value
}

export function parseSettings(raw: RawInputs, context: ParseContext): Settings {
  const get = (name: string): string | undefined => {
    const value = raw[name]?.trim()
    return value === undefined || value === '' ? undefined : value
  }
  /** The value given, else the input's default from the INPUTS table. */
  const orDefault = (name: string): string => get(name) ?? defaultOf(name)
  const required = (name: string): string => {
    const value = get(name)
    if (value === undefined)
      throw new InputError(`Input "${name}" is required: a bake needs it (merging shard manifests, with input "merge" or \`credbake merge\`, does not).`, { input: name })
    return value
  }
  const resolvePath = (value: string): string => path.resolve(context.baseDir, value)
  // The action handles merge before settings (src/main.ts); the CLI has its own command for it.
  if (get('merge') !== undefined) {
    throw new InputError('Input "merge" combines shard manifests instead of baking: run `credbake merge --output-dir DIR MANIFEST...` (the action does so when merge is set).', {
      input: 'merge'
    })
  }

  // What the INPUTS table marks requiredToBake (action.yml cannot: a merge goes without them), in
  // its order, so the first one missing is named.
  for (const input of INPUTS) if (input.requiredToBake) required(input.name)
  const manifestPath = resolvePath(required('manifest'))
  checkManifestFile(manifestPath)
  const fleetCaCert = readPem('fleet-ca-cert', required('fleet-ca-cert'), resolvePath, false)
  const fleetCaKey = readKeyReference(required('fleet-ca-key'), resolvePath)
  const serverCaValue = get('server-ca')
  const credentialsZipValue = get('credentials-zip')
  const credentialsZip = credentialsZipValue === undefined ? undefined : resolvePath(credentialsZipValue)
  // Explicit server-ca and gateway-url win; the zip must supply only what they leave out.
  const fromZip =
    credentialsZip === undefined ? undefined : readCredentialsZip(credentialsZip, { serverCa: serverCaValue === undefined, gatewayUrl: get('gateway-url') === undefined })
  const image = get('image')
  const format = parseFormat(get('format'), image)

  const settings: Settings = {
    manifestPath,
    fleetCaCert,
    fleetCaKey,
    fleetCaKeyPassphrase: raw['fleet-ca-key-passphrase'] || undefined,
    pkcs11Module: get('pkcs11-module'),
    serverCa:
      serverCaValue === undefined
        ? fromZip?.serverCa && readCertificates('credentials-zip', fromZip.serverCa)
        : readCertificates('server-ca', readPem('server-ca', serverCaValue, resolvePath, false)),
    gatewayUrl: get('gateway-url') === undefined ? fromZip?.gatewayUrl : parseGatewayUrl(get('gateway-url')),
    ...(credentialsZip === undefined ? {} : { credentialsZip }),
    layout: oneOf('layout', orDefault('layout'), LAYOUTS),
    credentialsDir: parseCredentialsDir(orDefault('credentials-dir')),
    keyType: oneOf('key-type', orDefault('key-type'), KEY_TYPES),
    lifetime: parseLifetime(get('validity-days'), get('not-after')),
    subject: orDefault('subject'),
    san: get('san'),
    image: image === undefined ? undefined : resolvePath(image),
    partition: parsePartitionSelector(get('partition')),
    ...(get('ostree-os') === undefined ? {} : { ostreeOs: parseOstreeOs(get('ostree-os') as string) }),
    format,
    compress: oneOf('compress', orDefault('compress'), COMPRESSIONS),
    bmap: parseBoolean('bmap', orDefault('bmap')),
    ...exportsOf(get('exports')),
    crl: parseBoolean('crl', orDefault('crl')),
    crlDays: parseCrlDays(orDefault('crl-days')),
    reissueRevoked: (get('reissue-revoked') ?? '')
      .split(',')
      .map((serial) => serial.trim())
      .filter((serial) => serial !== ''),
    outputDir: resolvePath(orDefault('output-dir')),
    shard: parseShard(orDefault('shard')),
    resume: parseBoolean('resume', orDefault('resume')),
    overwrite: parseBoolean('overwrite', orDefault('overwrite')),
    tempRoot: context.tempRoot ?? os.tmpdir(),
    concurrency: parseCount('concurrency', orDefault('concurrency')),
    diskPreflight: process.env.CREDBAKE_DISK_PREFLIGHT !== 'off'
  }
  if (settings.partition && !settings.image) {
    throw new InputError('Input "partition" needs "image": it selects a partition of the base image.', {
      input: 'partition'
    })
  }
  if (settings.compress !== 'none' && !outputFormat(format).takesImage) {
    throw new InputError(`Input "compress" applies to image and partition outputs, not to format "${format}".`, {
      input: 'compress'
    })
  }
  if (settings.bmap && !outputFormat(format).takesImage) {
    throw new InputError(`Input "bmap" applies to image and partition outputs (block maps for bmaptool), not to format "${format}".`, {
      input: 'bmap'
    })
  }
  if (settings.ostreeOs !== undefined) {
    // Refused before anything is issued: on OSTree only /var survives updates.
    const refusal = ostreePathRefusal(settings.credentialsDir, settings.ostreeOs)
    if (refusal !== undefined) throw new InputError(`Input "credentials-dir" cannot be used with ostree-os: ${refusal}`, { input: 'credentials-dir' })
  }
  checkPathLengths(settings)
  if (image !== undefined && !existsSync(settings.image as string)) {
    throw new InputError(`Input "image": no file at ${settings.image}.`, { input: 'image' })
  }
  if (image !== undefined && !statSync(settings.image as string).isFile()) {
    throw new InputError(`Input "image": ${settings.image} is not a regular file (a folder or a device?); give the firmware image file.`, { input: 'image' })
  }
  return settings
}

/**
 * fleet-ca-key: a key URI (`pkcs11:`, `awskms://`, `exec:PATH`, kept as given in `text`; a relative
 * exec path resolves like other paths), else PEM text or a path to it as for other PEM inputs.
 */
export function readKeyReference(value: string, resolvePath: (p: string) => string): PemSource {
  const origin = 'input fleet-ca-key'
  const scheme = keyUriScheme(value)
  if (scheme === 'pkcs11' || scheme === 'awskms') return { input: 'fleet-ca-key', text: value, origin }
  if (scheme === 'exec') {
    const program = value.slice(KEY_URI_SCHEMES.exec.length)
    if (program === '') throw new InputError('Input "fleet-ca-key": exec: needs the path of a signer program, e.g. exec:./signer.sh', { input: 'fleet-ca-key' })
    return { input: 'fleet-ca-key', text: `exec:${resolvePath(program)}`, origin }
  }
  return readPem('fleet-ca-key', value, resolvePath, true)
}

/**
 * A PEM input is either the PEM text itself (a secret pasted into the workflow) or a path.
 * Key values are never echoed: a malformed secret must not end up in a log.
 */
export function readPem(input: string, value: string, resolvePath: (p: string) => string, secret: boolean): PemSource {
  if (value.includes('-----BEGIN')) {
    if (value.length > INPUT_LIMITS.pem) {
      throw new InputError(`Input "${input}" holds ${value.length.toLocaleString('en-US')} characters of text; PEM inputs may be at most ${formatSize(INPUT_LIMITS.pem)}.`, {
        input
      })
    }
    return { input, text: value, origin: `input ${input}` }
  }
  const looksLikePath = !value.includes('\n') && value.length < 4096
  if (looksLikePath) {
    const file = resolvePath(value)
    let text: string
    try {
      text = readBoundedTextSync(file, { maxBytes: INPUT_LIMITS.pem, what: 'a PEM file' })
    } catch (error) {
      const shown = secret ? 'the given path' : escapeText(file)
      if (error instanceof ReadLimitError) throw new InputError(`Input "${input}": ${shown} ${whyUnreadable(error)}.`, { input })
      throw new InputError(
        `Input "${input}" is neither PEM text nor a readable file (${shown}: ${escapeText(messageOf(error).replace(file, '…'))}). Pass the PEM itself or a path to it.`,
        { input }
      )
    }
    if (!text.includes('-----BEGIN')) {
      throw new InputError(`Input "${input}": ${secret ? 'the file' : escapeText(file)} holds no PEM block ("-----BEGIN …").`, { input })
    }
    return { input, text, origin: file }
  }
  throw new InputError(`Input "${input}" holds no PEM block ("-----BEGIN …") and is not a path.`, { input })
}

/**
 * The manifest, when it exists, must be a regular file within INPUT_LIMITS.manifest: checked here
 * because the bake hashes it before reading it, and a FIFO or /dev/zero would hold it there. (A
 * missing or unreadable manifest is reported by the manifest reader, with the working directory.)
 */
function checkManifestFile(file: string): void {
  try {
    checkBoundedFileSync(file, { maxBytes: INPUT_LIMITS.manifest, what: 'a device manifest' })
  } catch (error) {
    if (error instanceof ReadLimitError) throw new ManifestError(`Input "manifest": ${escapeText(file)} ${whyUnreadable(error)}.`, { file, cause: error })
  }
}

/**
 * Paths the outputs will need, measured before anything is issued: every name of credentials-dir
 * within PATH_LIMITS.component bytes, the device paths and (for format dir) the host paths of the
 * device files within PATH_LIMITS.path.
 */
function checkPathLengths(settings: Settings): void {
  const dir = settings.credentialsDir
  const long = longComponent(dir)
  if (long !== undefined) {
    throw new InputError(
      `Input "credentials-dir": the name "${escapeText(long.name.slice(0, 40))}…" is ${long.bytes} bytes long; a name in a path may be at most ${PATH_LIMITS.component} bytes (ext2/3/4; FAT long names hold 255 characters).`,
      { input: 'credentials-dir' }
    )
  }
  // With ostree-os, tar and dir outputs carry sysroot paths: /ostree/deploy/OS in front.
  const sysroot = settings.ostreeOs === undefined ? 0 : utf8Bytes(`/ostree/deploy/${settings.ostreeOs}`)
  const devicePath = sysroot + utf8Bytes(dir) + 1 + PATH_LIMITS.deviceFileName
  if (devicePath > PATH_LIMITS.path) {
    throw new InputError(
      `Input "credentials-dir" is ${utf8Bytes(dir)} bytes long; with the names of the files in it (up to ${PATH_LIMITS.deviceFileName} bytes)${sysroot ? ' and the OSTree sysroot path in front' : ''} a path on the device may be at most ${PATH_LIMITS.path} bytes (PATH_MAX), so it may be at most ${PATH_LIMITS.path - 1 - PATH_LIMITS.deviceFileName - sysroot} bytes.`,
      { input: 'credentials-dir' }
    )
  }
  const outputDir = settings.outputDir
  const longOutput = longComponent(outputDir)
  // A tree output (dir) holds the device paths below its folder.
  const tree = outputFormat(settings.format).tree
  const hostPath = utf8Bytes(outputDir) + PATH_LIMITS.outputName + (tree ? devicePath : 0)
  if (longOutput !== undefined || hostPath > PATH_LIMITS.path) {
    const why =
      longOutput !== undefined
        ? `its name "${escapeText(longOutput.name.slice(0, 40))}…" is ${longOutput.bytes} bytes long, and a name may be at most ${PATH_LIMITS.component} bytes`
        : `the paths of the outputs in it would be longer than ${PATH_LIMITS.path} bytes (PATH_MAX): ${utf8Bytes(outputDir)} bytes of output-dir, up to ${PATH_LIMITS.outputName} of credbake's own names` +
          (tree ? ` and ${devicePath} of credentials-dir and its files (format ${settings.format})` : '')
    throw new InputError(`Input "output-dir": ${why}; choose a shorter output-dir${tree ? ' or credentials-dir' : ''}.`, { input: 'output-dir' })
  }
}

/**
 * A PEM input that goes onto devices as a trust root must hold certificates and nothing else: a
 * private key pasted into the wrong secret would otherwise land on every device, world-readable.
 */
function readCertificates(input: string, source: PemSource): PemSource {
  const blocks = readPemBlocks(source.text)
  if ('problem' in blocks) throw new InputError(`${describeOrigin(source)}: ${blocks.problem}.`, { input })
  const wrong = blocks.find((block) => block.label !== 'CERTIFICATE')
  if (wrong) {
    const what = /PRIVATE KEY/.test(wrong.label) ? 'a private key' : `a ${wrong.label} block`
    throw new InputError(`${describeOrigin(source)} holds ${what}; it must hold only the server's CA certificate(s).`, { input })
  }
  for (const [index, block] of blocks.entries()) {
    try {
      new X509Certificate(block.der)
    } catch (error) {
      throw new InputError(`${describeOrigin(source)}: certificate ${index + 1} is not a valid X.509 certificate (${messageOf(error)}).`, {
        input
      })
    }
  }
  return source
}

function oneOf<T extends string>(input: string, value: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(value)) return value as T
  throw new InputError(`Input "${input}" must be one of ${allowed.join(', ')}; got "${value}".`, { input })
}

function parseFormat(value: string | undefined, image: string | undefined): string {
  const format = oneOf('format', value ?? defaultFormat(image !== undefined).name, FORMAT_NAMES)
  if (outputFormat(format).takesImage && image === undefined) {
    throw new InputError(`Input "format" is "${format}" but no "image" is given: set image to the base firmware image.`, {
      input: 'format'
    })
  }
  if (!outputFormat(format).takesImage && image !== undefined) {
    const withImage = OUTPUT_FORMATS.filter((other) => other.takesImage).map((other) => other.name)
    throw new InputError(`Input "image" is set but "format" is "${format}", which does not use it: use format ${withImage.join(' or ')}, or drop image.`, {
      input: 'format'
    })
  }
  return format
}

function parseLifetime(validityDays: string | undefined, notAfter: string | undefined): Lifetime {
  if (validityDays !== undefined && notAfter !== undefined) {
    throw new InputError('Inputs "validity-days" and "not-after" both set: give one.', { input: 'not-after' })
  }
  if (notAfter !== undefined) {
    if (notAfter.toLowerCase() === 'never') return { kind: 'never' }
    // RFC 3339 requires a date, a time and an offset; Date.parse alone would accept far more.
    const rfc3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-](\d{2}):(\d{2}))$/
    const parts = rfc3339.exec(notAfter)
    const time = new Date(notAfter)
    if (!parts || Number.isNaN(time.getTime()) || !isCalendarTime(parts.slice(1, 7).map(Number), parts.slice(9, 11).map(Number))) {
      throw new InputError(`Input "not-after" must be an RFC 3339 time such as 2030-01-01T00:00:00Z, or "never"; got "${notAfter}".`, { input: 'not-after' })
    }
    if (time.getTime() <= Date.now()) {
      throw new InputError(`Input "not-after" (${notAfter}) is in the past.`, { input: 'not-after' })
    }
    return { kind: 'until', notAfter: time }
  }
  const given = validityDays ?? defaultOf('validity-days')
  const days = Number(given)
  if (!/^\d+$/.test(given) || !Number.isSafeInteger(days) || days < 1 || days > MAX_VALIDITY_DAYS) {
    throw new InputError(`Input "validity-days" must be a whole number of days from 1 to ${MAX_VALIDITY_DAYS}; got "${validityDays}". For no expiry use not-after: never.`, {
      input: 'validity-days'
    })
  }
  return { kind: 'days', days }
}

/** Date would roll 2030-02-30 over to March 2nd: check each field is in range for real. */
function isCalendarTime([year, month, day, hour, minute, second]: number[], [offsetHours, offsetMinutes]: number[]): boolean {
  if (year === undefined || month === undefined || day === undefined) return false
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate()
  return (
    month >= 1 &&
    month <= 12 &&
    day >= 1 &&
    day <= daysInMonth &&
    (hour ?? 99) <= 23 &&
    (minute ?? 99) <= 59 &&
    (second ?? 99) <= 59 &&
    (offsetHours === undefined || Number.isNaN(offsetHours) || offsetHours <= 23) &&
    (offsetMinutes === undefined || Number.isNaN(offsetMinutes) || offsetMinutes <= 59)
  )
}

function parseCredentialsDir(value: string): string {
  if (!value.startsWith('/') || value.split('/').some((part) => part === '..' || part === '.')) {
    throw new InputError(`Input "credentials-dir" must be an absolute path on the device without . or ..; got "${value}".`, {
      input: 'credentials-dir'
    })
  }
  if (/[\u0000-\u001f"\\]/.test(value)) {
    throw new InputError('Input "credentials-dir" holds control characters, quotes or backslashes.', {
      input: 'credentials-dir'
    })
  }
  const hidden = misleadingCharIn(value)
  if (hidden !== undefined) throw new InputError(`Input "credentials-dir" holds ${hidden}; it must be plain visible text.`, { input: 'credentials-dir' })
  const normalised = path.posix.normalize(value).replace(/\/+$/, '')
  return normalised === '' ? '/' : normalised
}

function parseGatewayUrl(value: string | undefined): string | undefined {
  if (value === undefined) return undefined
  let url: URL
  try {
    url = new URL(value)
  } catch {
    throw new InputError(`Input "gateway-url" is not a URL: "${value}".`, { input: 'gateway-url' })
  }
  if (url.protocol !== 'https:') {
    // aktualizr authenticates the device to the gateway with mutual TLS: the device certificate is
    // only ever presented inside a TLS handshake, so over http the device could never log in.
    throw new InputError(
      `Input "gateway-url" must be an https URL; got "${value}". aktualizr connects to the device gateway with mutual TLS, presenting the device certificate in the TLS handshake: over ${url.protocol.replace(/:$/, '')} the device would never authenticate.`,
      { input: 'gateway-url' }
    )
  }
  return value
}

export function parsePartitionSelector(value: string | undefined): PartitionSelector | undefined {
  if (value === undefined) return undefined
  if (/^\d+$/.test(value)) {
    const number = Number(value)
    if (number >= 0 && number <= 256) return { kind: 'number', number }
  }
  const match = /^(label|name)=(.+)$/.exec(value)
  if (match) return { kind: match[1] as 'label' | 'name', value: match[2] as string }
  throw new InputError(`Input "partition" must be a partition number (e.g. 2, or 5 for the first logical MBR partition), label=NAME or name=NAME; got "${value}".`, {
    input: 'partition'
  })
}

function parseOstreeOs(value: string): string {
  if (!isStaterootName(value)) {
    throw new InputError(`Input "ostree-os" must name an OSTree stateroot (the NAME of /ostree/deploy/NAME: letters, digits, . _ + -); got ${JSON.stringify(value)}.`, {
      input: 'ostree-os'
    })
  }
  return value
}

function exportsOf(value: string | undefined): Pick<Settings, 'exports'> {
  const names = parseExportNames(value)
  return names.length ? { exports: names } : {}
}

/**
 * exports: a comma list of registration exports, each known (else an InputError naming `input`),
 * each once, in EXPORT_NAMES order whatever the order given: the manifest names them so, and merge
 * compares shards' lists as they are.
 */
export function parseExportNames(value: string | undefined, input = 'exports'): ExportName[] {
  const asked = (value ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean)
  for (const name of asked) {
    if (!(EXPORT_NAMES as readonly string[]).includes(name)) throw new InputError(`${input}: "${name}" is not one of ${EXPORT_NAMES.join(', ')}`, { input })
  }
  return EXPORT_NAMES.filter((name) => asked.includes(name))
}

export function parseBoolean(input: string, value: string): boolean {
  // The YAML 1.2 core schema's booleans, as @actions/core's getBooleanInput accepts them.
  if (['true', 'True', 'TRUE'].includes(value)) return true
  if (['false', 'False', 'FALSE'].includes(value)) return false
  throw new InputError(`Input "${input}" must be true or false; got "${value}".`, { input })
}

function parseCount(input: string, value: string): number {
  const count = Number(value)
  if (!/^\d+$/.test(value) || count > 256) {
    throw new InputError(`Input "${input}" must be a whole number from 0 to 256; got "${value}".`, { input })
  }
  return count
}
