// GitHub Action adapter: inputs → settings → bake → outputs + job summary. Thin on purpose: all
// decisions live in the settings parser and the pipeline.
import { X509Certificate } from 'node:crypto'
import path from 'node:path'
import * as core from '@actions/core'
import { CancelledError, EXIT_CODES, type ErrorKind, InputError, isCredbakeError, messageOf } from './errors.js'
import { neutraliseOutput } from './util/log-text.js'
import { bake } from './pipeline/bake.js'
import { reporterText, throttledProgress, type Reporter } from './pipeline/reporter.js'
import { exportLines, type FailureSummaryInput, renderFailureSummary, renderMergeSummary, renderSummary, type SummaryInput } from './review/summary.js'
import { expandGlobs } from './merge/glob.js'
import { mergeShards } from './merge/merge.js'
import { refreshCrl, type RefreshCrlOptions } from './revocation/refresh.js'
import { parseCrlDays } from './settings/crl-days.js'
import { INPUTS } from './settings/inputs.js'
import { defaultOf, parseBoolean, parseSettings, readKeyReference, readPem } from './settings/parse.js'
import type { PemSource } from './settings/types.js'
import { readPemBlocks } from './util/pem.js'
import { STATE } from './post.js'
import { gracefully, handleStopSignals } from './util/cancel.js'
import { failIfUnsettled } from './util/unsettled.js'

/** What the summary of a failed step needs to know about the run so far. */
interface RunState {
  merge: boolean
  resume: boolean
  outputDir?: string
  progress?: { total: number; kept: number; done: number }
}

/** The main step; a run that stops without settling fails the step instead of passing it (src/util/unsettled.ts). */
export function run(): Promise<void> {
  return failIfUnsettled(runStep(), (message) => core.setFailed(neutraliseOutput(message)))
}

async function runStep(): Promise<void> {
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd()
  const state: RunState = { merge: false, resume: true }
  // A cancelled job: the runner sends SIGINT, then SIGTERM, then SIGKILL. The first stops the bake
  // or merge cleanly, the second at once (removing the secret temp folder and the lock); after a
  // SIGKILL the post: step removes them.
  handleStopSignals({ say: (line) => say(line) })
  try {
    // The same bundle runs again as the post: step (src/post.ts); this tells it apart, and names
    // the process the lock will name.
    core.saveState(STATE.isPost, 'true')
    core.saveState(STATE.mainPid, String(process.pid))
    const raw: Record<string, string> = {}
    for (const input of INPUTS) {
      // Mask before anything else can print: a malformed secret must not reach the log either.
      const value = core.getInput(input.name)
      if (input.secret && value) core.setSecret(value)
      raw[input.name] = value
    }
    state.resume = raw.resume?.trim().toLowerCase() !== 'false'
    // merge: combine shard manifests; nothing is baked, so manifest and the fleet CA are not needed.
    if (raw.merge?.trim()) {
      state.merge = true
      await gracefully(() => runMerge(raw, workspace))
      return
    }
    const settings = parseSettings(raw, { baseDir: workspace, tempRoot: process.env.RUNNER_TEMP })
    // A key given as a path is a secret too once read.
    core.setSecret(settings.fleetCaKey.text)
    state.resume = settings.resume
    state.outputDir = settings.outputDir

    const progress = throttledProgress((line) => say(line))
    const reporter: Reporter = {
      info: (message) => say(message),
      warning: (message, where) => warn(message, annotation(where, workspace)),
      progress: (done, total) => {
        if (state.progress) state.progress.done = done
        progress(done, total)
      },
      planned: (plan) => {
        state.progress = { ...plan, done: plan.kept }
      },
      // Saved at once (saveState appends to GITHUB_STATE synchronously): a job cancelled or
      // killed mid-bake never reaches bake's `finally`, and the post step removes these instead.
      holding: (resource) => core.saveState(resource.kind === 'lock' ? STATE.lock : STATE.secretTemp, resource.path)
    }
    const result = await gracefully(() => bake(settings, reporter))

    setOutputs(result, result.crl)
    const shown = (file: string): string => workspacePath(file, workspace)
    await writeSummary(
      renderSummary({
        header: result.header,
        devices: result.firstDevices,
        total: result.devices,
        kept: result.skipped,
        superseded: { count: result.superseded, byReason: result.supersededReasons, path: shown(result.supersededPath) },
        manifestPath: shown(result.manifestPath),
        certificatesPath: shown(result.certificatesPath),
        outputDir: shown(result.outputDir),
        ...(settings.image === undefined ? {} : { imagePath: shown(settings.image) }),
        ...serverCaFacts(settings.serverCa),
        ...(settings.gatewayUrl === undefined ? {} : { gatewayUrl: settings.gatewayUrl }),
        ...(settings.fleetCaCert.origin === 'input fleet-ca-cert' ? {} : { fleetCaCertPath: shown(settings.fleetCaCert.origin) }),
        exported: result.exported,
        revocation: {
          revoked: result.revoked,
          held: result.revokedHeld,
          ...(result.crl ? { crl: { ...result.crl, path: shown(result.crl.path) } } : {})
        }
      })
    )
    for (const line of exportLines(result.exported, result.outputDir)) say(`Registration export ${line}`)
    const bakedNow = result.devices - result.skipped
    say(`Baked ${bakedNow} devices now${result.skipped ? `, kept ${result.skipped} from an earlier run` : ''}; manifest: ${result.manifestPath}`)
  } catch (error) {
    if (error instanceof CancelledError) {
      // One line saying what was done; the exit code tells the signal (130 SIGINT, 143 SIGTERM).
      warn(`credbake: ${error.message}`)
      process.exitCode = error.exitCode
    } else if (isCredbakeError(error)) {
      // Errors in a file (a manifest row) become annotations on that line.
      if (error.file) core.error(neutraliseOutput(error.message), annotation({ file: error.file, line: error.line }, workspace))
      core.setFailed(neutraliseOutput(error.message))
    } else {
      core.setFailed(neutraliseOutput(`credbake failed unexpectedly: ${messageOf(error)}`))
    }
    await writeFailureSummary(error, state, workspace)
  }
}

/** A path as the summary shows it: relative to the workspace, never the runner's absolute path. */
function workspacePath(file: string, workspace: string): string {
  return path.relative(workspace, file) || '.'
}

/** The server CA every device gets as root.crt: where it came from, and each certificate's subject and SHA-256. */
function serverCaFacts(source: PemSource | undefined): Pick<SummaryInput, 'serverCa'> {
  if (!source) return {}
  const blocks = readPemBlocks(source.text)
  if ('problem' in blocks) return {}
  const certificates = blocks.flatMap((block) => {
    try {
      const certificate = new X509Certificate(block.der)
      return [{ subject: certificate.subject.replace(/\n/g, ', '), sha256: certificate.fingerprint256.replace(/:/g, '').toLowerCase() }]
    } catch {
      return [] // checked when the settings were read; nothing to show otherwise
    }
  })
  return { serverCa: { from: source.input, certificates } }
}

/** A summary for a failed or cancelled step; a problem writing it is a warning, never the error. */
async function writeFailureSummary(error: unknown, state: RunState, workspace: string): Promise<void> {
  const where = isCredbakeError(error) && error.file ? `${workspacePath(error.file, workspace)}${error.line ? `:${error.line}` : ''}` : undefined
  const input: FailureSummaryInput = {
    message: error instanceof CancelledError ? `credbake: ${error.message}` : isCredbakeError(error) ? error.message : `credbake failed unexpectedly: ${messageOf(error)}`,
    kind: failureKind(error),
    ...(isCredbakeError(error) && error.input && !(error instanceof CancelledError) ? { input: error.input } : {}),
    ...(where ? { where } : {}),
    cancelled: error instanceof CancelledError,
    merge: state.merge,
    ...(state.progress ? { progress: state.progress } : {}),
    ...(state.outputDir ? { outputDir: workspacePath(state.outputDir, workspace) } : {}),
    resume: state.resume
  }
  try {
    await writeSummary(renderFailureSummary(input))
  } catch (problem) {
    warn(`credbake: could not write the job summary: ${messageOf(problem)}`)
  }
}

/** The error's class as docs/cli.md's exit-code table names it (the CLI exits with that code; the action fails its step). */
function failureKind(error: unknown): string {
  if (error instanceof CancelledError) return `stopped by ${error.signal} (exit code ${error.exitCode} in the CLI)`
  if (!isCredbakeError(error)) return 'unexpected failure, a bug: please report it (exit code 1 in the CLI)'
  const kinds: Partial<Record<ErrorKind, string>> = {
    input: 'bad input',
    manifest: 'bad device manifest',
    'fleet-ca': 'the fleet CA cannot be used',
    image: 'image problem',
    tool: 'tool problem',
    output: 'outputs cannot be written',
    lock: 'another credbake run holds the output directory'
  }
  return `${kinds[error.kind] ?? error.kind} (exit code ${EXIT_CODES[error.kind]} in the CLI)`
}

async function runMerge(raw: Record<string, string>, workspace: string): Promise<void> {
  // crl: true signs the merged set's CRL after the merge, with the fleet CA inputs.
  const withCrl = parseBoolean('crl', raw.crl?.trim() || defaultOf('crl'))
  const crlInputs = withCrl ? mergedCrlInputs(raw, workspace) : undefined
  const ignored = ['manifest', 'fleet-ca-cert', 'fleet-ca-key', 'image', 'credentials-zip'].filter((name) => raw[name]?.trim() && !(withCrl && name.startsWith('fleet-ca-')))
  if (ignored.length) warn(`Input "merge" is set, so nothing is baked: ${ignored.join(', ')} ${ignored.length > 1 ? 'are' : 'is'} ignored.`)
  const manifests = expandGlobs(raw.merge!, workspace)
  if (!manifests.length) {
    throw new InputError(`Input "merge": ${JSON.stringify(raw.merge!.trim())} matches no file in ${workspace}; give the shard manifests, e.g. shards/*/credbake-manifest.json.`, {
      input: 'merge'
    })
  }
  say(`Merging ${manifests.length} shard manifests: ${manifests.map((file) => path.relative(workspace, file) || file).join(', ')}`)
  const result = await mergeShards({
    outputDir: raw['output-dir']?.trim() || defaultOf('output-dir'),
    manifests,
    baseDir: workspace,
    info: (message) => say(message),
    warn: (message) => warn(message)
  })
  const shown = (file: string): string => workspacePath(file, workspace)
  let crl: { path: string; number: string } | undefined
  if (crlInputs) {
    const written = await refreshCrl({ outputDir: result.outputDir, ...crlInputs, warn: (message) => warn(message) })
    say(
      `CRL number ${written.record.number} for the merged set: ${written.record.entries} entries (${written.revoked} revoked, ${written.superseded} superseded), next update ${written.record.nextUpdate}, in ${shown(written.pemPath)}`
    )
    crl = { path: written.pemPath, number: written.record.number }
  }
  setOutputs(result, crl)
  await writeSummary(
    renderMergeSummary({
      header: result.header,
      shards: result.shards,
      devices: result.devices,
      superseded: result.superseded,
      manifestPath: shown(result.manifestPath),
      certificatesPath: shown(result.certificatesPath),
      supersededPath: shown(result.supersededPath),
      outputDir: shown(result.outputDir),
      exported: result.exported
    })
  )
  for (const line of exportLines(result.exported, result.outputDir)) say(`Registration export ${line}`)
  say(`Merged ${result.shards.length} shards, ${result.devices} devices; manifest: ${result.manifestPath}`)
}

/** The action's outputs, the same after a bake and a merge. */
function setOutputs(
  result: { manifestPath: string; certificatesPath: string; devices: number; outputDir: string; fleetCaSha256: string },
  crl?: { path: string; number: string }
): void {
  core.setOutput('manifest', result.manifestPath)
  core.setOutput('certificates', result.certificatesPath)
  core.setOutput('devices', String(result.devices))
  core.setOutput('output-dir', result.outputDir)
  core.setOutput('fleet-ca-sha256', result.fleetCaSha256)
  // Empty without crl: true, so a later step can test for it.
  core.setOutput('crl', crl?.path ?? '')
  core.setOutput('crl-number', crl?.number ?? '')
}

// Messages carry labels, partition names, manifest values, file names and tool output: no line of
// them may start a workflow command (core.info prints as is; core.warning and core.error escape
// %, CR and LF, and the properties' : and , themselves).
function say(message: string): void {
  core.info(reporterText(message))
}

function warn(message: string, properties: core.AnnotationProperties = {}): void {
  core.warning(reporterText(message), properties)
}

function annotation(where: { file?: string; line?: number } | undefined, workspace: string): core.AnnotationProperties {
  if (!where?.file) return {}
  const relative = path.relative(workspace, where.file)
  return {
    file: relative.startsWith('..') ? where.file : relative,
    ...(where.line === undefined ? {} : { startLine: where.line })
  }
}

async function writeSummary(html: string): Promise<void> {
  // Locally (act without a summary file, or a plain `node dist/index.js`) there is nowhere to write.
  if (!process.env.GITHUB_STEP_SUMMARY) return
  await core.summary.addRaw(html).write()
}

/** The fleet CA inputs a merge with crl: true signs the merged CRL with (read before the merge, so a mistake stops it first). */
function mergedCrlInputs(raw: Record<string, string>, workspace: string): Omit<RefreshCrlOptions, 'outputDir' | 'warn'> {
  const resolvePath = (value: string): string => path.resolve(workspace, value)
  const cert = raw['fleet-ca-cert']?.trim()
  const key = raw['fleet-ca-key']?.trim()
  if (!cert || !key) {
    throw new InputError('Input "crl" with "merge" signs the merged set\'s CRL: it needs fleet-ca-cert and fleet-ca-key (the fleet CA that baked the shards).', {
      input: cert ? 'fleet-ca-key' : 'fleet-ca-cert'
    })
  }
  const fleetCaKey = readKeyReference(key, resolvePath)
  core.setSecret(fleetCaKey.text)
  return {
    fleetCaCert: readPem('fleet-ca-cert', cert, resolvePath, false),
    fleetCaKey,
    ...(raw['fleet-ca-key-passphrase'] ? { passphrase: raw['fleet-ca-key-passphrase'] } : {}),
    ...(raw['pkcs11-module']?.trim() ? { pkcs11Module: raw['pkcs11-module'].trim() } : {}),
    days: parseCrlDays(raw['crl-days']?.trim() || defaultOf('crl-days'))
  }
}
