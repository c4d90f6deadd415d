// The main job, top to bottom:
// settings → manifest → fleet CA → profile → (per device: issue → bundle → sink) → review → result.
import { loadFleetCa } from '../ca/load.js'
import type { FleetCa } from '../ca/types.js'
import { buildBundle, chainFor, type BundleOptions } from '../bundle/build.js'
import { buildProfile } from '../issue/profile.js'
import { issueCredential } from '../issue/issue.js'
import type { CertificateProfile } from '../issue/types.js'
import { readDeviceManifest, selectShard } from '../manifest/read.js'
import { manifestDevice, ReviewWriter } from '../review/manifest-writer.js'
import { SUMMARY_MAX_ROWS } from '../review/summary.js'
import { MANIFEST_SCHEMA_VERSION, type ManifestDevice, type ManifestHeader } from '../review/types.js'
import type { Settings } from '../settings/types.js'
import { createSink } from '../sink/create.js'
import { SecretTemp } from '../util/secret-temp.js'
import { VERSION } from '../version.js'
import { prepareOutputDir } from './output-dir.js'
import type { Reporter } from './reporter.js'

export interface BakeResult {
  manifestPath: string
  certificatesPath: string
  outputDir: string
  devices: number
  fleetCaSha256: string
  header: ManifestHeader
  /** The first devices, for the summary; the manifest has them all. */
  firstDevices: ManifestDevice[]
  skipped: number
}

export async function bake(settings: Settings, reporter: Reporter): Promise<BakeResult> {
  const startedAt = new Date()

  const everyDevice = await readDeviceManifest(settings.manifestPath)
  const devices = selectShard(everyDevice, settings.shard)
  reporter.info(
    `Manifest ${settings.manifestPath}: ${everyDevice.length} devices` +
      (settings.shard.count > 1 ? `, ${devices.length} in shard ${settings.shard.index}/${settings.shard.count}` : '')
  )

  // Every check on the CA happens here, before the first key is generated.
  const ca = loadFleetCa({
    cert: settings.fleetCaCert,
    key: settings.fleetCaKey,
    passphrase: settings.fleetCaKeyPassphrase,
    lifetime: settings.lifetime,
    now: startedAt
  })
  reporter.info(`Fleet CA: ${ca.subject} (${ca.keyDescription}, SHA-256 ${ca.sha256})`)
  const profile = buildProfile(
    { keyType: settings.keyType, subject: settings.subject, san: settings.san, lifetime: settings.lifetime },
    ca
  )

  await prepareOutputDir(settings.outputDir)
  const header = manifestHeader(settings, ca, profile, startedAt)
  const bundleOptions: BundleOptions = {
    layout: settings.layout,
    credentialsDir: settings.credentialsDir,
    serverCaPem: settings.serverCa?.text,
    gatewayUrl: settings.gatewayUrl,
    ...chainFor(ca)
  }

  const secrets = await SecretTemp.create(settings.tempRoot)
  let review: ReviewWriter | undefined
  const sink = await createSink(settings, { secrets, mtime: startedAt, reporter })
  try {
    review = await ReviewWriter.open(settings.outputDir, header)
    const firstDevices: ManifestDevice[] = []
    let done = 0
    for (const device of devices) {
      const credential = issueCredential(ca, profile, device, startedAt)
      const output = await sink.write(device, buildBundle(credential, bundleOptions))
      const entry = manifestDevice(credential, output)
      await review.add(entry, credential.certificatePem)
      if (firstDevices.length < SUMMARY_MAX_ROWS) firstDevices.push(entry)
      reporter.progress(++done, devices.length)
    }
    const paths = await review.commit()
    review = undefined
    return {
      manifestPath: paths.manifest,
      certificatesPath: paths.certificates,
      outputDir: settings.outputDir,
      devices: done,
      fleetCaSha256: ca.sha256,
      header,
      firstDevices,
      skipped: 0
    }
  } finally {
    await review?.abandon()
    await sink.close()
    await secrets.remove()
  }
}

function manifestHeader(settings: Settings, ca: FleetCa, profile: CertificateProfile, now: Date): ManifestHeader {
  const lifetime =
    profile.lifetime.kind === 'until'
      ? { kind: 'until' as const, notAfter: profile.lifetime.notAfter.toISOString() }
      : profile.lifetime
  return {
    schemaVersion: MANIFEST_SCHEMA_VERSION,
    tool: { name: 'credbake', version: VERSION },
    createdAt: now.toISOString(),
    fleetCa: {
      subject: ca.subject,
      sha256: ca.sha256,
      notBefore: ca.notBefore.toISOString(),
      notAfter: ca.notAfter.toISOString(),
      keyType: ca.keyDescription,
      signatureAlgorithm: ca.signatureAlgorithmName,
      intermediate: ca.isIntermediate
    },
    profile: { ...profile, lifetime },
    layout: { name: settings.layout, credentialsDir: settings.credentialsDir },
    output: {
      format: settings.format,
      compress: settings.compress,
      ...(settings.image ? { image: { path: settings.image } } : {})
    },
    shard: { index: settings.shard.index, count: settings.shard.count }
  }
}
