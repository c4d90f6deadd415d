// The main job, top to bottom:
// settings → manifest → fleet CA → profile → output-dir (lock, journal, resume plan)
//   → per device, in one loop for every format (device workers, or this thread for small runs):
//     issue → bundle → journal the certificate → write the output (the workers for tar and dir,
//     this thread's sink for images) → journal the output
//   → review manifest from the journal → result for the summary.
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { openFleetCa } from '../ca/load.js'
import type { FleetCa } from '../ca/types.js'
import { chainFor, type BundleOptions } from '../bundle/build.js'
import { CancelledError, InputError, messageOf, reviveError, serializeError } from '../errors.js'
import { buildProfile } from '../issue/profile.js'
import { dnsNameFieldsOf, validateSanTemplate } from '../issue/san.js'
import { validateSubjectTemplate } from '../issue/subject.js'
import type { CertificateProfile } from '../shapes/profile.js'
import { Journal } from '../journal/journal.js'
import { OutputLock } from '../journal/lock.js'
import { JOURNAL_FORMAT, differingFields, type RunBasis, type RunIdentity } from '../journal/records.js'
import { loadJournalState, type JournalState, type LiveOutput } from '../journal/state.js'
import { readDeviceList, selectShardOf, type DeviceList } from '../manifest/read.js'
import type { Device } from '../manifest/types.js'
import { writeReviewFromJournal } from '../review/from-journal.js'
import { deviceIdRulesOf } from '../exports/registration.js'
import { MANIFEST_SCHEMA_VERSION, type ExportSummary, type ManifestDevice, type ManifestHeader, type RevokedCertificate, type SupersededReason } from '../shapes/review.js'
import { staterootVar } from '../placement/ostree.js'
import type { Settings } from '../settings/types.js'
import { outputFormat } from '../formats/registry.js'
import type { SinkOutput } from '../shapes/output.js'
import type { Sink, WriteHooks } from '../formats/types.js'
import { cancellation } from '../util/cancel.js'
import { Cleanup } from '../util/cleanup.js'
import { checkWay } from '../util/confined.js'
import { flushFileSystem, sha256File } from '../util/fsx.js'
import { SecretTemp } from '../util/secret-temp.js'
import { VERSION } from '../version.js'
import { DeviceBasisMaker, basisKey, runBasis } from './basis.js'
import { createDevicePool, warmDeviceWorkers, type DevicePool, type IssuedBatch } from './device-pool.js'
import type { HandedDevice, WriteResult } from './device-work.js'
import { writtenRecord, type Replaces } from './journal-records.js'
import { checkDiskSpace, checkDiskSpaceAfterFirst } from './preflight.js'
import { capYoungGeneration } from './young-generation.js'
import { heldMessage, planRevoked, staleCrlMessage, type RevokedPlan } from '../crl/bake-plan.js'
import { writeFleetCrl, type WrittenCrl } from '../crl/write-crl.js'
import { checkCanSignCrls } from '../x509/crl.js'
import { hasPriorOutputs, prepareOutputDir, removeLeftoverTemps, removeReview } from './output-dir.js'
import type { Reporter } from './reporter.js'

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
  /** `superseded` by reason (the job summary lists them). */
  supersededReasons: Partial<Record<SupersededReason, number>>
  fleetCaSha256: string
  header: ManifestHeader
  /** The first devices, for the summary; the manifest has them all. */
  firstDevices: ManifestDevice[]
  /** What the exports asked for wrote (registration files), as the manifest records it. */
  exported: ExportSummary[]
  /** Revoked devices kept revoked and not baked (reissue-revoked issues them anew). */
  revokedHeld: number
  /** Certificates revoked with credbake revoke (the manifest marks their devices). */
  revoked: RevokedCertificate[]
  /** With input crl: the CRL written. */
  crl?: { number: string; entries: number; path: string; nextUpdate: string }
}

export async function bake(settings: Settings, reporter: Reporter): Promise<BakeResult> {
  const startedAt = new Date()

  // The review records which device manifest it was baked from (merge refuses mixed ones): the
  // bytes as read now, not as they may be at the end of a long run.
  // Formats that workers write (tar, dir): the device workers start now and load while the
  // manifest is read and the CA opened. (Image bakes are rarely large enough for workers, and a
  // wrong guess would cost them the workers' start-up: theirs start when the pool is made.)
  const format = outputFormat(settings.format)
  const warm =
    format.workerWriter !== undefined ? warmDeviceWorkers({ concurrency: settings.concurrency, manifestPath: settings.manifestPath, shards: settings.shard.count }) : undefined
  // This thread's young generation stops growing at 16 MiB (Node 24 would let it reach 128 MiB),
  // and not at all while the manifest is parsed (a stretch no timer looks into).
  const youngGeneration = capYoungGeneration()
  const manifestSha256 = await sha256File(settings.manifestPath).catch(() => '')
  // Held compactly (a column per property) through the whole run; Device objects are made for the
  // devices being issued only. Also the serials in scope: the review lists theirs as active.
  const devices = await youngGeneration
    .holding(() => readDevices(settings, reporter))
    .catch(async (error: unknown) => {
      youngGeneration.stop()
      await warm?.release()
      throw error
    })

  // Everything acquired from here on is released in `finally`, every step even if one throws.
  const cleanup = new Cleanup()
  // What is done, for the line a stop by a signal prints.
  const tally: Tally = { total: devices.length }
  if (warm) cleanup.add('the issuance workers started early', warm, (held) => held.release())
  cleanup.add('the young generation check', youngGeneration, (held) => held.stop())
  let failed = false
  try {
    // Every check on the CA happens here, before the first key is generated. fleet-ca-key names a
    // signer (PEM key, PKCS#11 token, KMS key or program): opened, matched against the
    // certificate and test-signed here.
    const { ca, signer } = await openFleetCa({
      cert: settings.fleetCaCert,
      key: settings.fleetCaKey,
      passphrase: settings.fleetCaKeyPassphrase,
      pkcs11Module: settings.pkcs11Module,
      lifetime: settings.lifetime,
      now: startedAt,
      warn: (message) => reporter.warning(message)
    })
    cleanup.add('the fleet CA signer', signer, (held) => held.close())
    reporter.info(`Fleet CA: ${ca.subject} (${ca.keyDescription}, SHA-256 ${ca.sha256})`)
    // crl: the CA must be allowed to sign CRLs: found out before any device is issued.
    if (settings.crl) checkCanSignCrls(ca)
    const profile = buildProfile({ keyType: settings.keyType, subject: settings.subject, san: settings.san, lifetime: settings.lifetime }, ca)

    cancellation.throwIfRequested()
    const warn = (message: string): void => reporter.warning(message)
    await prepareOutputDir(settings.outputDir, warn)
    const lock = cleanup.add('the output-dir lock', await OutputLock.acquire(settings.outputDir, { warn }), (held) => held.release())
    reporter.holding?.({ kind: 'lock', path: lock.file })
    const secrets = cleanup.add('the secret temp folder', await SecretTemp.create(settings.tempRoot), (held) => held.remove())
    reporter.holding?.({ kind: 'secret-temp', path: secrets.dir })
    await removeLeftoverTemps(settings.outputDir)
    const sink = cleanup.add('the output sink', await format.open(settings, { secrets, mtime: startedAt, reporter }), (held) => held.close())

    const identity = runIdentity(settings, ca, sink)
    // Where the files are stored shapes them: a changed stateroot reissues, never keeps.
    const basis = runBasis(settings, profile, sink.ostree?.os)
    if (sink.ostree && !format.takesImage) {
      reporter.info(
        `ostree-os ${sink.ostree.os}: the ${settings.format} outputs hold the files at sysroot paths (${staterootVar(sink.ostree.os)}/…), to be put into a mounted otaroot, not onto a running device.`
      )
    }
    const basisMaker = new DeviceBasisMaker(profile)
    // The journal's state (per device, for resume) is needed for the plan only: it is not held
    // through the bake and the review.
    const { overwrite, plan, orphans, revoked } = await planRun(settings, identity, devices, { basis, basisMaker, sink })
    if (revoked.held.size) reporter.warning(heldMessage(revoked.held))
    cancellation.throwIfRequested()
    tally.kept = plan.kept
    tally.done = plan.kept
    reporter.planned?.({ total: devices.length, kept: plan.kept })
    // Refused for lack of space before anything in output-dir changed.
    if (settings.diskPreflight)
      await checkDiskSpace({
        outputDir: settings.outputDir,
        devices: plan.todo.length,
        bytesPerDevice: sink.space?.bytesPerOutput ?? 0,
        transientBytes: sink.space?.transientBytes,
        basis: sink.space?.basis,
        reporter
      })
    // The review files of an earlier run vouch for outputs this run may change: the journal keeps
    // everything they said, and they are written anew at the end.
    await removeReview(settings.outputDir)

    cancellation.throwIfRequested()
    const journal = cleanup.add('the journal', await Journal.open(settings.outputDir), (held) => held.close())
    const run = `${startedAt.toISOString()}-${process.pid}`
    await journal.append({ type: 'run', run, at: startedAt.toISOString(), version: VERSION, format: JOURNAL_FORMAT, identity, basis, overwrite })

    // Starts the progress clock before the first device (a run whose devices all land in one batch still gets its rate).
    reporter.progress(plan.kept, devices.length)
    await retireOrphans(settings.outputDir, orphans, journal, run, reporter)

    const bundle: BundleOptions = {
      layout: settings.layout,
      credentialsDir: settings.credentialsDir,
      serverCaPem: settings.serverCa?.text,
      gatewayUrl: settings.gatewayUrl,
      ...(sink.ostree ? { ostreeOs: sink.ostree.os } : {}),
      ...chainFor(ca)
    }
    const context: BakeContext = {
      settings,
      sink,
      journal,
      run,
      bundle,
      progress: (done) => {
        tally.done = done
        reporter.progress(done, devices.length)
      },
      // Outputs whose size shows only once one exists (compressed images, dir trees).
      ...(settings.diskPreflight && sink.space?.bytesPerOutput === undefined && plan.todo.length > 1
        ? {
            checkSpaceAfterFirst: async (outputPath: string) => {
              await checkDiskSpaceAfterFirst({
                outputDir: settings.outputDir,
                firstOutput: path.join(settings.outputDir, outputPath),
                remaining: plan.todo.length - 1,
                transientBytes: sink.space?.transientBytes,
                reporter
              })
            }
          }
        : {})
    }
    // Workers issue and seal for every format; where the outputs are written is the format's business.
    const pool = cleanup.add(
      'the issuance workers',
      createDevicePool(
        { ca, profile, now: startedAt, bundle, run, ...(sink.writer ? { writer: sink.writer } : {}) },
        { concurrency: settings.concurrency, devices: plan.todo.length, signer },
        warm
      ),
      (held) => held.close()
    )
    const stage: OutputStage = sink.writer ? new WorkerWrites(context, pool, plan.kept) : new SinkWrites(context, pool, plan.kept)
    await bakeDevices(plan, pool, stage)
    // The workers' memory is not needed for the review: let it go before the review's own peak.
    await pool.close()
    // Stopped by a signal: what landed is journaled (and synced); the review is written by the rerun.
    cancellation.throwIfRequested()
    await journal.append({ type: 'complete', run, at: new Date().toISOString(), devices: devices.length })
    reportPlan(plan, devices.length, settings.outputDir, reporter)
    const crl: WrittenCrl | undefined = settings.crl ? await writeFleetCrl({ outputDir: settings.outputDir, ca, signer, days: settings.crlDays, journal, run }) : undefined
    if (crl)
      reporter.info(
        `CRL number ${crl.record.number}: ${crl.record.entries} entries (${crl.revoked} revoked, ${crl.superseded} superseded), next update ${crl.record.nextUpdate}, in ${crl.pemPath}`
      )

    // Outputs reach the disk before the manifest that vouches for them.
    await flushFileSystem(settings.outputDir)
    const header = manifestHeader(settings, ca, profile, startedAt, sink, manifestSha256)
    const review = await writeReviewFromJournal(settings.outputDir, header, devices, { fleetCaPem: ca.pem })
    tally.reviewed = true
    cancellation.throwIfRequested()
    // A CRL of an earlier run no longer lists everything: said here, reported by verify.
    if (!crl && review.crl && (plan.replaces.size > 0 || orphans.length > 0)) reporter.warning(staleCrlMessage(review.crl.number))
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
      skipped: plan.kept,
      superseded: review.supersededCount,
      supersededReasons: review.supersededReasons,
      fleetCaSha256: ca.sha256,
      header,
      firstDevices: review.firstDevices,
      exported: review.exported,
      revokedHeld: revoked.held.size,
      revoked: review.revoked,
      ...(crl ? { crl: { number: crl.record.number, entries: crl.record.entries, path: crl.pemPath, nextUpdate: crl.record.nextUpdate } } : {})
    }
  } catch (error) {
    failed = true
    // Stopped by a signal: whatever the error that ended the run (a tool killed by the same
    // signal, or the stop itself), the line says what was done.
    throw cancellation.signal ? stoppedLine(cancellation.signal, tally) : error
  } finally {
    await cleanup.run({
      failed,
      onError: (name, error) => reporter.warning(`Could not release ${name} after the failure above: ${messageOf(error)}`)
    })
  }
}

/** How far a run got, for the line printed when a signal stops it. */
interface Tally {
  total: number
  /** Devices kept from earlier runs (set once planned). */
  kept?: number
  /** Devices baked and journaled, kept ones included. */
  done?: number
  reviewed?: boolean
}

function stoppedLine(signal: NonNullable<typeof cancellation.signal>, tally: Tally): CancelledError {
  const released = 'the lock and the secret temp folder are released'
  if (tally.done === undefined) {
    return new CancelledError(signal, `stopped by ${signal} before any device was issued; nothing in output-dir changed, ${released}. Run the same command again to bake.`)
  }
  if (tally.reviewed) {
    return new CancelledError(signal, `stopped by ${signal} after the run was done: all ${tally.total} devices are baked and the manifest is written; ${released}.`)
  }
  const now = tally.done - (tally.kept ?? 0)
  return new CancelledError(
    signal,
    `stopped by ${signal}: ${tally.done.toLocaleString('en-US')} of ${tally.total.toLocaleString('en-US')} devices are baked and journaled (${now.toLocaleString('en-US')} by this run; the devices in flight landed or were rolled back), ${released}. Run the same command again to resume.`
  )
}

// ---- the plan: which devices are kept, which are issued (anew) and why ------------------------

interface Plan {
  devices: DeviceList
  /** Rows of `devices` to issue, in manifest order. */
  todo: number[]
  /** Per serial in `todo`: the live certificate it replaces, and why. */
  replaces: Map<string, Replaces>
  /** Devices whose live output is kept as it is. */
  kept: number
}

/** User-facing names of basis fields, as the inputs that set them are called. */
const BASIS_FIELD_NAMES: Record<string, string> = {
  keyType: 'key-type',
  lifetime: 'lifetime',
  profileSha256: 'profile',
  layout: 'layout',
  credentialsDir: 'credentials-dir',
  serverCaSha256: 'server-ca',
  gatewayUrl: 'gateway-url',
  ostreeOs: 'ostree-os',
  deviceId: 'device-id',
  subject: 'subject',
  sanSha256: 'san',
  csrSha256: 'csr'
}

/** The devices of the manifest (and shard). */
async function readDevices(settings: Settings, reporter: Reporter): Promise<DeviceList> {
  // Values the subject and SAN use must be text a reviewer can trust (checked per row, up front).
  const san = settings.san === undefined ? undefined : validateSanTemplate(settings.san)
  const textFields = [...validateSubjectTemplate(settings.subject).fields, ...(san?.fields ?? [])]
  // A `*` a value puts into a DNS name is refused with the manifest's other problems, before issuing.
  const dnsNameFields = san ? dnsNameFieldsOf(san) : []
  // So is a device ID a registry named in exports cannot take.
  const deviceIdRules = deviceIdRulesOf(settings.exports)
  const everyDevice = await readDeviceList(settings.manifestPath, { textFields, dnsNameFields, deviceIdRules, warn: (message, where) => reporter.warning(message, where) })
  const devices = selectShardOf(everyDevice, settings.shard)
  reporter.info(
    `Manifest ${settings.manifestPath}: ${everyDevice.length} devices` +
      (settings.shard.count > 1 ? `, ${devices.length} in shard ${settings.shard.index}/${settings.shard.count}` : '')
  )
  return devices
}

/** An output of a device no longer in the manifest (or shard). */
interface Orphan {
  serial: string
  certificateSha256: string
  path: string
}

/**
 * What the journal says, weighed against this run: whether it starts over, which devices are
 * kept, and the outputs of devices no longer in scope. The journal state is dropped on return.
 */
async function planRun(
  settings: Settings,
  identity: RunIdentity,
  devices: DeviceList,
  context: { basis: RunBasis; basisMaker: DeviceBasisMaker; sink: Sink }
): Promise<{ overwrite: boolean; plan: Plan; orphans: Orphan[]; revoked: RevokedPlan }> {
  const state = await loadJournalState(settings.outputDir)
  const overwrite = await resumePolicy(settings, identity, state)
  const revoked = planRevoked(state, (serial) => devices.has(serial), settings.reissueRevoked)
  const plan = await planDevices(devices, state, { ...context, overwrite, revoked })
  const orphans: Orphan[] = []
  for (const [serial, live] of state.live) {
    if (!devices.has(serial)) orphans.push({ serial, certificateSha256: live.certificateSha256, path: live.path })
  }
  return { overwrite, plan, orphans, revoked }
}

/**
 * A device is kept only when its live output was issued with the same run basis and device
 * basis as this run would use, and the output still verifies; otherwise it is issued anew.
 * The outputs are verified several at once (a resume of 100,000 overlays reads 100,000 files);
 * the plan keeps manifest order.
 */
async function planDevices(
  devices: DeviceList,
  state: JournalState,
  context: { overwrite: boolean; basis: RunBasis; basisMaker: DeviceBasisMaker; sink: Sink; revoked?: RevokedPlan }
): Promise<Plan> {
  const plan: Plan = { devices, todo: [], replaces: new Map(), kept: 0 }
  const currentRunBasis = basisKey(context.basis)
  // Per row: 0 issue anew, 1 kept if its output verifies; why a live certificate is replaced, by
  // row (plan.replaces is filled in manifest order at the end).
  const toVerify: number[] = []
  const decisions = new Uint8Array(devices.length)
  const replaced = new Map<number, Replaces>()
  for (let row = 0; row < devices.length; row++) {
    const serial = devices.serial(row)
    const live = state.live.get(serial)
    // Revoked devices: held as they are (not baked), or issued anew on purpose (reissue-revoked).
    if (context.revoked?.held.has(serial)) {
      decisions[row] = 1
      continue
    }
    if (live && context.revoked?.reissue.has(serial)) {
      replaced.set(row, { certificateSha256: live.certificateSha256, reason: 'reissued-changed', changed: ['revoked'] })
      continue
    }
    // With overwrite everything is issued anew; earlier certificates are superseded as overwritten.
    if (!live || context.overwrite || live.beforeOverwrite) continue
    const changed = changedBasis(live, currentRunBasis, context.basis, devices.device(row), context.basisMaker)
    if (changed.length) {
      replaced.set(row, { certificateSha256: live.certificateSha256, reason: 'reissued-changed', changed })
    } else {
      decisions[row] = 1
      toVerify.push(row)
    }
  }
  // Image outputs are hundreds of MiB each: a few at once; small outputs: many.
  const concurrency = context.sink.writesInFlight !== undefined ? 2 : VERIFY_CONCURRENCY
  let next = 0
  const verifyNext = async (): Promise<void> => {
    while (next < toVerify.length && !cancellation.requested) {
      const row = toVerify[next++]!
      const live = state.live.get(devices.serial(row))!
      if (await context.sink.verify(live)) continue
      decisions[row] = 0
      replaced.set(row, { certificateSha256: live.certificateSha256, reason: 'output-redone' })
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, toVerify.length) }, verifyNext))
  for (let row = 0; row < devices.length; row++) {
    if (decisions[row]) {
      plan.kept++
      continue
    }
    plan.todo.push(row)
    const why = replaced.get(row)
    if (why) plan.replaces.set(devices.serial(row), why)
  }
  return plan
}

/** Kept outputs of tar and dir bakes verified at once on resume. */
const VERIFY_CONCURRENCY = 16

function changedBasis(live: LiveOutput, currentRunBasis: string, basis: RunBasis, device: Device, basisMaker: DeviceBasisMaker): string[] {
  const changed: string[] = []
  if (live.runBasis !== currentRunBasis) {
    const before = JSON.parse(live.runBasis) as RunBasis
    // A format-1 journal recorded none of it.
    if (before.profileSha256 === '') return ['unrecorded (journal format 1)']
    changed.push(...differingFields(before, basis))
  }
  const deviceBasis = basisMaker.of(device)
  if (live.deviceBasis !== basisKey(deviceBasis)) changed.push(...differingFields(JSON.parse(live.deviceBasis), deviceBasis))
  return changed.map((field) => BASIS_FIELD_NAMES[field] ?? field)
}

/**
 * Outputs of devices no longer in the manifest (or shard) are removed, then journaled as retired:
 * only then may their certificates be listed as superseded, because nothing live holds them.
 * Removal comes first so that a crash in between leaves at worst a retirement to redo.
 */
async function retireOrphans(outputDir: string, orphans: readonly Orphan[], journal: Journal, run: string, reporter: Reporter): Promise<void> {
  const retired = orphans.length
  const checked = new Set<string>()
  for (const { serial, certificateSha256, path: outputPath } of orphans) {
    // The path is an output inside output-dir (checked as the journal was read); no link on the
    // way to it is followed, and rm removes a link itself, never what it points to.
    await checkWay(outputDir, outputPath, checked)
    await rm(path.join(outputDir, outputPath), { recursive: true, force: true })
    await journal.appendLazily({ type: 'retired', run, at: new Date().toISOString(), serial, certificateSha256, path: outputPath })
  }
  if (!retired) return
  await journal.sync()
  reporter.warning(
    `Removed the outputs of ${retired} devices that are no longer in the device manifest (or not in this shard); their certificates are listed as superseded (not-in-manifest): revoke them on the server.`
  )
}

function reportPlan(plan: Plan, total: number, outputDir: string, reporter: Reporter): void {
  if (plan.kept) reporter.info(`${plan.kept} of ${total} devices were already complete in ${outputDir} and were kept.`)
  const counts = new Map<string, number>()
  for (const replaced of plan.replaces.values()) {
    const why = replaced.reason === 'output-redone' ? 'output missing or modified' : `changed: ${replaced.changed?.join(', ')}`
    counts.set(why, (counts.get(why) ?? 0) + 1)
  }
  for (const [why, count] of counts) reporter.info(`${count} devices were issued anew (${why}); their earlier certificates are superseded.`)
}

// ---- issuing and writing, batch by batch ----------------------------------------------------------

interface BakeContext {
  settings: Settings
  sink: Sink
  journal: Journal
  run: string
  bundle: BundleOptions
  progress: (done: number) => void
  /** Called once, after the first output landed and was journaled; then dropped. */
  checkSpaceAfterFirst?: (outputPath: string) => Promise<void>
}

/**
 * Where a format's outputs are written, as the one bake loop sees it: by the device workers
 * (formats with a worker writer: tar, dir) or through the main thread's sink (images). The
 * format's record decides (OutputFormat.workerWriter, offered by the sink as `writer`).
 */
interface OutputStage {
  /** Devices per batch the pool issues. */
  readonly batchSize: number
  /** Batches issued ahead of the one being written. */
  readonly issueAhead: number
  /** Journal and write one issued batch; false when nothing more may be written. */
  take(batch: IssuedBatch): Promise<boolean>
  /** After the last batch (or a stop): settle what is in flight, throw the first failure, sync the journal. */
  finish(): Promise<void>
}

/**
 * Every format: the device pool issues batch after batch (the stage's `issueAhead` in advance:
 * key pairs, certificates, journal lines and bundles made on the worker threads), and the
 * format's stage journals and writes each in turn. Stopped by a signal: no further batch is
 * journaled or written (the ones issued ahead were never recorded and their keys never reached
 * an output; they are dropped with the pool). Issuance failed: the outputs in flight still land
 * and are recorded (or their failure, which came first, is the one reported).
 */
async function bakeDevices(plan: Plan, pool: DevicePool, stage: OutputStage): Promise<void> {
  const batches = Math.ceil(plan.todo.length / stage.batchSize)
  const issuing: Array<Promise<IssuedBatch> | undefined> = []
  const issueAhead = (index: number): void => {
    if (index >= batches || issuing[index] || cancellation.requested) return
    const orders = batchOf(plan, index * stage.batchSize, stage.batchSize).map((device) => {
      const replaces = plan.replaces.get(device.serial)
      return replaces ? { device, replaces } : { device }
    })
    const promise = pool.issue(orders)
    promise.catch(() => {}) // awaited in turn below; not an unhandled rejection meanwhile
    issuing[index] = promise
  }
  for (let ahead = 0; ahead <= stage.issueAhead; ahead++) issueAhead(ahead)
  try {
    for (let index = 0; index < batches; index++) {
      if (cancellation.requested) break
      const issued = await (issuing[index] as Promise<IssuedBatch>)
      issuing[index] = undefined
      if (cancellation.requested) break
      issueAhead(index + stage.issueAhead + 1)
      if (!(await stage.take(issued))) break
    }
  } catch (error) {
    await stage.finish()
    throw error
  }
  await stage.finish()
}

/** The devices of `plan.todo[start, start + size)`, made from the compact list. */
function batchOf(plan: Plan, start: number, size: number): Device[] {
  return plan.todo.slice(start, start + size).map((row) => plan.devices.device(row))
}

/**
 * Devices per journal group commit when workers write the outputs (tar, dir): their certificates
 * are journaled with one fsync before any of their keys is written.
 */
const WORKER_BATCH = 128
/** Batches issued ahead of the one being journaled and written, so the workers never wait for an fsync. */
const WORKER_ISSUE_AHEAD = 2

/**
 * tar, dir: each batch's certificates are made durable with one fsync, then the workers write the
 * batch's outputs and return their lines. After a failed output nothing more is written: the
 * outputs that landed are journaled, then the failure is reported.
 */
class WorkerWrites implements OutputStage {
  readonly batchSize = WORKER_BATCH
  readonly issueAhead = WORKER_ISSUE_AHEAD
  private done: number

  constructor(
    private readonly context: BakeContext,
    private readonly pool: DevicePool,
    kept: number
  ) {
    this.done = kept
  }

  async take(issued: IssuedBatch): Promise<boolean> {
    const { context } = this
    // Journal before key: the batch's certificates are durable before any of its keys is written.
    await context.journal.appendEncoded(issued.issued)
    await context.journal.sync()
    const result = await this.pool.write(issued)
    await journalWritten(context, result)
    this.done += result.written.length
    context.progress(this.done)
    if (result.error) await failBatch(context, reviveError(result.error))
    const check = context.checkSpaceAfterFirst
    if (check && result.paths[0] !== undefined) {
      context.checkSpaceAfterFirst = undefined
      await check(result.paths[0])
    }
    return true
  }

  async finish(): Promise<void> {
    await this.context.journal.sync()
  }
}

/**
 * Journal the outputs a pool batch wrote. When the journal cannot take them all (the disk filled
 * up), outputs are removed from the last one on, each freeing room for the records before it,
 * until what is left is journaled: an output the journal cannot vouch for never stays.
 */
async function journalWritten(context: BakeContext, result: WriteResult): Promise<void> {
  let kept = result.written.length
  for (;;) {
    try {
      await context.journal.appendEncoded(result.written.slice(0, kept))
      break
    } catch (error) {
      if (kept === 0) throw error
      kept--
      await rm(path.join(context.settings.outputDir, result.paths[kept] as string), { recursive: true, force: true })
      if (!result.error) result.error = serializeError(error)
    }
  }
  result.written.length = kept
  result.paths.length = kept
}

/**
 * Formats the main thread writes (images: hashing overlaps the next device's write): the pool
 * issues a batch of `writesInFlight` devices ahead, and they are written through a window of as
 * many devices. The next device starts as soon as the oldest in flight has landed, so the hashing
 * threads never wait for a whole batch to finish. Each certificate is journaled (fsync'd) as its
 * turn comes, right before its key is written (the sink's beforeKeyWritten).
 */
class SinkWrites implements OutputStage {
  readonly batchSize: number
  readonly issueAhead = 1
  private readonly window: WriteWindow

  constructor(
    context: BakeContext,
    private readonly pool: DevicePool,
    kept: number
  ) {
    this.batchSize = Math.max(1, context.sink.writesInFlight ?? 1)
    const { sink } = context
    if (!sink.write) throw new Error(`internal: the ${sink.format} sink neither writes nor has a worker writer`)
    let done = kept
    this.window = new WriteWindow(context, this.batchSize, sink.write.bind(sink), () => context.progress(++done))
  }

  async take(issued: IssuedBatch): Promise<boolean> {
    if (this.window.failed) return false
    const handed = await this.pool.hand(issued)
    for (const [index, device] of handed.entries()) if (!(await this.window.start(device, issued.issued[index] as string))) return false
    return true
  }

  finish(): Promise<void> {
    return this.window.drain()
  }
}

/**
 * Writes in flight, at most `size`, settled in device order: each output that landed before the
 * first failure is recorded; outputs after a failure are removed again, and no new write starts.
 * The `written` records are made durable every `size` devices and at the end.
 */
class WriteWindow {
  private readonly inFlight: Array<{ handed: HandedDevice; output: Promise<SinkOutput> }> = []
  private failure: { error: unknown } | undefined
  private sinceSync = 0

  constructor(
    private readonly context: BakeContext,
    private readonly size: number,
    private readonly write: NonNullable<Sink['write']>,
    private readonly landed: () => void
  ) {}

  get failed(): boolean {
    return this.failure !== undefined
  }

  /** Start writing `handed` once there is room; false when an earlier device failed or a signal stops the run. */
  async start(handed: HandedDevice, issuedLine: string): Promise<boolean> {
    while (this.inFlight.length >= this.size && !this.failure) await this.settleOldest()
    if (this.failure || cancellation.requested) return false
    const { journal } = this.context
    const hooks: WriteHooks = {
      beforeKeyWritten: async () => {
        await journal.appendEncoded([issuedLine])
        await journal.sync()
      }
    }
    const output = this.write(handed.device, handed.files, hooks)
    output.catch(() => {}) // settled in order by settleOldest
    this.inFlight.push({ handed, output })
    return true
  }

  /** Settle everything in flight; then the first failure is thrown, or the journal synced. */
  async drain(): Promise<void> {
    while (this.inFlight.length > 0) await this.settleOldest()
    if (this.failure) await failBatch(this.context, this.failure.error)
    await this.context.journal.sync()
  }

  private async settleOldest(): Promise<void> {
    const { handed, output } = this.inFlight.shift()!
    try {
      const written = await output
      if (this.failure) {
        await rm(path.join(this.context.settings.outputDir, written.path), { recursive: true, force: true })
        return
      }
      await recordWritten(this.context, handed, written)
      this.landed()
      if (++this.sinceSync >= this.size) {
        this.sinceSync = 0
        await this.context.journal.sync()
      }
    } catch (error) {
      this.failure ??= { error }
    }
  }
}

/** Make what the journal holds durable, then report the failure the user must see. */
async function failBatch(context: BakeContext, error: unknown): Promise<never> {
  // A second error from the journal would only hide the first.
  await context.journal.sync().catch(() => undefined)
  throw error
}

/**
 * Journal an output as soon as it landed (in device order). An output the journal cannot vouch
 * for (say, the disk filled up) is removed again.
 */
async function recordWritten(context: BakeContext, handed: HandedDevice, output: SinkOutput): Promise<void> {
  await context.journal.appendLazily(writtenRecord(context.run, handed.device.serial, handed.certificateSha256, output)).catch(async (error: unknown) => {
    await rm(path.join(context.settings.outputDir, output.path), { recursive: true, force: true })
    throw error
  })
  const check = context.checkSpaceAfterFirst
  if (check) {
    context.checkSpaceAfterFirst = undefined
    await check(output.path)
  }
}

// ---- whether this run may work in output-dir ---------------------------------------------------

/**
 * Whether this run starts over (true) or resumes (false), and the refusals: another shard's
 * outputs, outputs of a different fleet CA, format or base image, or a fresh run into a non-empty
 * folder without overwrite.
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
    const before = state.identity
    if (before.shard !== '' && before.shard !== identity.shard) {
      throw new InputError(
        `output-dir ${settings.outputDir} holds the outputs of shard ${before.shard}, and this run bakes shard ${identity.shard}: give every shard its own output-dir (for example credbake-out/shard-${identity.shard.replace('/', '-of-')}) and combine their manifests with \`credbake merge\` afterwards.`,
        { input: 'shard' }
      )
    }
    const differences = differingFields(before, identity).filter((field) => field !== 'shard')
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
    imageSha256: sink.base?.sha256 ?? null,
    partition: sink.base?.partition ?? null,
    shard: `${settings.shard.index}/${settings.shard.count}`
  }
}

/** `manifestSha256`: SHA-256 of the device manifest file's bytes (merge refuses shards that differ). */
function manifestHeader(settings: Settings, ca: FleetCa, profile: CertificateProfile, now: Date, sink: Sink, manifestSha256: string): ManifestHeader {
  const lifetime = profile.lifetime.kind === 'until' ? { kind: 'until' as const, notAfter: profile.lifetime.notAfter.toISOString() } : profile.lifetime
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
        ? {
            image: {
              path: settings.image,
              ...(sink.base ? { sha256: sink.base.sha256, partition: sink.base.partition } : {}),
              ...(sink.preexisting?.length ? { preexisting: [...sink.preexisting] } : {})
            }
          }
        : {}),
      ...(sink.ostree ? { ostree: { ...sink.ostree } } : {})
    },
    shard: { index: settings.shard.index, count: settings.shard.count },
    source: { manifest: { path: settings.manifestPath, sha256: manifestSha256 } },
    ...(sink.warnings?.length ? { warnings: [...sink.warnings] } : {}),
    ...(settings.exports?.length ? { exports: [...settings.exports] } : {})
  }
}
