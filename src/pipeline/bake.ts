// The main job, top to bottom:
// settings → manifest → fleet CA → profile → output-dir (lock, journal, resume plan)
//   → per device: issue → journal → bundle → sink → journal
//   → review manifest from the journal → result for the summary.
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { loadFleetCa } from '../ca/load.js'
import type { FleetCa } from '../ca/types.js'
import { buildBundle, chainFor, type BundleOptions } from '../bundle/build.js'
import { InputError } from '../errors.js'
import { buildProfile } from '../issue/profile.js'
import { createIssuer, type Issuer } from '../issue/pool.js'
import type { CertificateProfile, IssuedCredential } from '../issue/types.js'
import { Journal, type JournalRecord, type RunIdentity } from '../journal/journal.js'
import { OutputLock } from '../journal/lock.js'
import { identityDifferences, loadJournalState, type JournalState } from '../journal/state.js'
import { readDeviceManifest, selectShard } from '../manifest/read.js'
import type { Device } from '../manifest/types.js'
import { manifestDevice } from '../review/manifest-writer.js'
import { writeReviewFromJournal } from '../review/from-journal.js'
import { MANIFEST_SCHEMA_VERSION, type ManifestDevice, type ManifestHeader } from '../review/types.js'
import type { Settings } from '../settings/types.js'
import { createSink } from '../sink/create.js'
import type { Sink, SinkOutput, WriteHooks } from '../sink/types.js'
import { sha256Hex } from '../util/hash.js'
import { flushFileSystem } from '../util/fsx.js'
import { SecretTemp } from '../util/secret-temp.js'
import { VERSION } from '../version.js'
import { hasPriorOutputs, prepareOutputDir, removeLeftoverTemps, removeReview } from './output-dir.js'
import type { Reporter } from './reporter.js'

/** Devices per journal group commit for tar and dir outputs. */
const JOURNAL_BATCH = 64

export interface BakeResult {
  manifestPath: string
  certificatesPath: string
  supersededPath: string
  outputDir: string
  /** Devices in the manifest (this shard), all baked now or earlier. */
  devices: number
  /** Of those, complete from an earlier run and left as they were. */
  skipped: number
  superseded: number
  fleetCaSha256: string
  header: ManifestHeader
  /** The first devices, for the summary; the manifest has them all. */
  firstDevices: ManifestDevice[]
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
  const lock = await OutputLock.acquire(settings.outputDir)
  const secrets = await SecretTemp.create(settings.tempRoot)
  let sink: Sink | undefined
  let journal: Journal | undefined
  let issuer: Issuer | undefined
  try {
    await removeLeftoverTemps(settings.outputDir)
    sink = await createSink(settings, { secrets, mtime: startedAt, reporter })
    const identity = runIdentity(settings, ca, sink)
    const state = await loadJournalState(settings.outputDir)
    const overwrite = await resumePolicy(settings, identity, state)
    // The review files of an earlier run vouch for outputs this run may change: the journal keeps
    // everything they said, and they are written anew at the end.
    await removeReview(settings.outputDir)

    journal = await Journal.open(settings.outputDir)
    const run = `${startedAt.toISOString()}-${process.pid}`
    await journal.append({ type: 'run', run, at: startedAt.toISOString(), version: VERSION, identity, overwrite })

    const bundleOptions: BundleOptions = {
      layout: settings.layout,
      credentialsDir: settings.credentialsDir,
      serverCaPem: settings.serverCa?.text,
      gatewayUrl: settings.gatewayUrl,
      ...chainFor(ca)
    }
    // Resume: devices whose earlier output is still in place and unchanged are kept.
    const todo: Device[] = []
    let skipped = 0
    for (const device of devices) {
      const previous = overwrite ? undefined : state.completed.get(device.serial)
      if (previous && previous.deviceId === device.deviceId && (await sink.verify(previous))) skipped++
      else todo.push(device)
    }
    if (skipped) reporter.progress(skipped, devices.length)

    // Batches: tar and dir outputs group-commit the journal per batch; image sinks keep a few
    // devices in flight (hashing overlaps the next device's write). The next batch is issued (on
    // worker threads) while this one is written.
    const inFlight = Math.max(1, sink.writesInFlight ?? 1)
    const batchSize = settings.format === 'image' || settings.format === 'partition' ? inFlight : JOURNAL_BATCH
    const batches: Device[][] = []
    for (let start = 0; start < todo.length; start += batchSize) batches.push(todo.slice(start, start + batchSize))
    issuer = createIssuer(ca, profile, startedAt, { concurrency: settings.concurrency, devices: todo.length })
    const issueBatch = (index: number): Promise<IssuedCredential[]> | undefined => {
      const batch = batches[index]
      if (!batch || !issuer) return undefined
      const promise = issuer.issue(batch)
      promise.catch(() => {}) // awaited in turn below; not an unhandled rejection meanwhile
      return promise
    }
    const activeSink = sink
    const activeJournal = journal
    let done = skipped
    // The journal records outputs in device order, each as soon as it and those before it landed.
    const record = async (credential: IssuedCredential, output: SinkOutput): Promise<void> => {
      // An output the journal cannot vouch for (say, the disk filled up) is removed again.
      await activeJournal
        .appendLazily({
          type: 'written',
          run,
          at: new Date().toISOString(),
          serial: credential.device.serial,
          certificateSha256: credential.sha256,
          entry: manifestDevice(credential, output)
        })
        .catch(async (error: unknown) => {
          await rm(path.join(settings.outputDir, output.path), { recursive: true, force: true })
          throw error
        })
      reporter.progress(++done, devices.length)
    }
    let next = issueBatch(0)
    for (let index = 0; next; index++) {
      const batch = await next
      next = issueBatch(index + 1)
      // A certificate is journaled (fsync) before its key is written anywhere: for one-at-a-time
      // sinks the whole batch with one fsync; for sinks with writes in flight each device as its
      // turn comes, so a device after a failed one is never recorded as issued.
      if (inFlight === 1) await journal.append(...batch.map((credential) => issuedRecord(run, credential)))
      const hooksFor = (credential: IssuedCredential): WriteHooks =>
        inFlight === 1 ? {} : { beforeKeyWritten: () => activeJournal.append(issuedRecord(run, credential)) }
      // Every write of the batch settles, and each that succeeded is recorded, before a failure
      // (the first in device order) is reported. Sinks that take one write at a time get them one
      // after another, and none after a failure.
      const start = (credential: IssuedCredential): Promise<SinkOutput> => {
        const output = activeSink.write(credential.device, buildBundle(credential, bundleOptions), hooksFor(credential))
        output.catch(() => {}) // settled in order below
        return output
      }
      const writes = inFlight > 1 ? batch.map(start) : []
      let failure: unknown
      for (const [position, credential] of batch.entries()) {
        if (inFlight === 1 && failure !== undefined) break
        try {
          const output = await (writes[position] ?? start(credential))
          if (failure === undefined) await record(credential, output)
          else await rm(path.join(settings.outputDir, output.path), { recursive: true, force: true })
        } catch (error) {
          failure ??= error
        }
      }
      if (failure !== undefined) {
        // Keep the failure the user must see; a second one from the journal would only hide it.
        await journal.sync().catch(() => undefined)
        throw failure
      }
      await journal.sync()
    }
    await journal.append({ type: 'complete', run, at: new Date().toISOString(), devices: devices.length })
    if (skipped) reporter.info(`${skipped} of ${devices.length} devices were already complete in ${settings.outputDir} and were kept.`)

    // Outputs reach the disk before the manifest that vouches for them.
    await flushFileSystem(settings.outputDir)
    const header = manifestHeader(settings, ca, profile, startedAt, sink)
    const review = await writeReviewFromJournal(settings.outputDir, header, new Set(devices.map((device) => device.serial)))
    if (review.supersededCount) {
      reporter.warning(
        `${review.supersededCount} earlier certificates of these devices are superseded (listed in the manifest and ${review.superseded}): revoke them on the server.`
      )
    }
    return {
      manifestPath: review.manifest,
      certificatesPath: review.certificates,
      supersededPath: review.superseded,
      outputDir: settings.outputDir,
      devices: review.devices,
      skipped,
      superseded: review.supersededCount,
      fleetCaSha256: ca.sha256,
      header,
      firstDevices: review.firstDevices
    }
  } finally {
    await issuer?.close()
    await journal?.close()
    await sink?.close()
    await secrets.remove()
    await lock.release()
  }
}

/**
 * Whether this run starts over (true) or resumes (false), and the refusals: resume into outputs of
 * different settings, or a fresh run into a non-empty folder without overwrite.
 */
async function resumePolicy(settings: Settings, identity: RunIdentity, state: JournalState): Promise<boolean> {
  const prior = state.records > 0 || (await hasPriorOutputs(settings.outputDir))
  if (!settings.resume) {
    if (prior && !settings.overwrite) {
      throw new InputError(
        `output-dir ${settings.outputDir} is not empty and resume is false: set overwrite: true to replace what is there (earlier certificates are then listed as superseded), or use an empty output-dir.`,
        { input: 'output-dir' }
      )
    }
    return prior
  }
  if (state.identity) {
    const differences = identityDifferences(state.identity, identity)
    if (differences.length) {
      throw new InputError(
        `output-dir ${settings.outputDir} holds outputs of a run with different settings (${differences.join(', ')}), so it cannot be resumed: use another output-dir, or resume: false with overwrite: true to replace them.`,
        { input: 'output-dir' }
      )
    }
  }
  return false
}

function runIdentity(settings: Settings, ca: FleetCa, sink: Sink): RunIdentity {
  return {
    fleetCaSha256: ca.sha256,
    format: settings.format,
    compress: settings.compress,
    layout: settings.layout,
    credentialsDir: settings.credentialsDir,
    keyType: settings.keyType,
    subject: settings.subject,
    san: settings.san ?? null,
    imageSha256: sink.base?.sha256 ?? null,
    partition: sink.base?.partition ?? null,
    serverCaSha256: settings.serverCa ? sha256Hex(Buffer.from(settings.serverCa.text)) : null,
    gatewayUrl: settings.gatewayUrl ?? null
  }
}

function issuedRecord(run: string, credential: IssuedCredential): JournalRecord {
  return {
    type: 'issued',
    run,
    at: new Date().toISOString(),
    serial: credential.device.serial,
    deviceId: credential.device.deviceId,
    certificate: {
      serialNumber: credential.serialNumber,
      sha256: credential.sha256,
      notAfter: credential.notAfter.toISOString(),
      pem: credential.certificatePem
    }
  }
}

function manifestHeader(settings: Settings, ca: FleetCa, profile: CertificateProfile, now: Date, sink: Sink): ManifestHeader {
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
      ...(settings.image
        ? { image: { path: settings.image, ...(sink.base ? { sha256: sink.base.sha256, partition: sink.base.partition } : {}) } }
        : {})
    },
    shard: { index: settings.shard.index, count: settings.shard.count }
  }
}
