// GitHub Action adapter: inputs → settings → bake → outputs + job summary. Thin on purpose: all
// decisions live in the settings parser and the pipeline.
import path from 'node:path'
import * as core from '@actions/core'
import { isCredbakeError, messageOf } from './errors.js'
import { bake } from './pipeline/bake.js'
import { throttledProgress, type Reporter } from './pipeline/reporter.js'
import { renderSummary } from './review/summary.js'
import { INPUTS } from './settings/inputs.js'
import { parseSettings } from './settings/parse.js'
import { STATE } from './post.js'

export async function run(): Promise<void> {
  const workspace = process.env.GITHUB_WORKSPACE ?? process.cwd()
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
    const settings = parseSettings(raw, { baseDir: workspace, tempRoot: process.env.RUNNER_TEMP })
    // A key given as a path is a secret too once read.
    core.setSecret(settings.fleetCaKey.text)

    const reporter: Reporter = {
      info: (message) => core.info(message),
      warning: (message, where) => core.warning(message, annotation(where, workspace)),
      progress: throttledProgress((line) => core.info(line)),
      // Saved at once (saveState appends to GITHUB_STATE synchronously): a job cancelled or
      // killed mid-bake never reaches bake's `finally`, and the post step removes these instead.
      holding: (resource) => core.saveState(resource.kind === 'lock' ? STATE.lock : STATE.secretTemp, resource.path)
    }
    const result = await bake(settings, reporter)

    core.setOutput('manifest', result.manifestPath)
    core.setOutput('certificates', result.certificatesPath)
    core.setOutput('devices', String(result.devices))
    core.setOutput('output-dir', result.outputDir)
    core.setOutput('fleet-ca-sha256', result.fleetCaSha256)
    await writeSummary(
      renderSummary({
        header: result.header,
        devices: result.firstDevices,
        total: result.devices,
        skipped: result.skipped,
        manifestPath: path.relative(workspace, result.manifestPath) || result.manifestPath,
        certificatesPath: path.relative(workspace, result.certificatesPath) || result.certificatesPath
      })
    )
    core.info(`Baked ${result.devices} devices; manifest: ${result.manifestPath}`)
  } catch (error) {
    if (isCredbakeError(error)) {
      // Errors in a file (a manifest row) become annotations on that line.
      if (error.file) core.error(error.message, annotation({ file: error.file, line: error.line }, workspace))
      core.setFailed(error.message)
    } else {
      core.setFailed(`credbake failed unexpectedly: ${messageOf(error)}`)
    }
  }
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
