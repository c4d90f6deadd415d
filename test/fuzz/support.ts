// How the fuzz properties run: fast-check drives generated inputs into a sandboxed child process
// (test/helpers/corpus.ts), one product call per input, and judges what came back.
//
// Bounds (the whole fuzz suite must stay well under a minute on 2 cores): each property has a
// run count and a wall-clock limit (interruptAfterTimeLimit, not counted as a failure), and each
// call a timeout after which the child is killed and the input reported as a hang. The child's
// heap is capped at 256 MiB and its peak RSS checked after every call, so an input that makes the
// reader allocate what a header claims (2^32 GPT entries, ...) fails instead of swapping.
//
// Reproducing a failure: the message names the seed; run with FUZZ_SEED=<seed> (and the same
// FUZZ_SCALE) to replay the same inputs. FUZZ_SCALE=10 runs ten times more inputs (and allows
// ten times the time), for a longer local session.
import fc from 'fast-check'
import { describeResult, type SandboxOutcome, type SandboxResult } from '../helpers/corpus.js'

export const FUZZ_SEED = process.env.FUZZ_SEED ? Number(process.env.FUZZ_SEED) : (Date.now() ^ (process.pid << 8)) >>> 0
export const FUZZ_SCALE = Math.max(0.1, Number(process.env.FUZZ_SCALE ?? 1))

/**
 * Per-call timeout. Most calls take milliseconds; the slowest legitimate ones (30 KB of YAML with
 * thousands of errors, which the yaml library formats one by one) take about 1.5 s on an idle
 * 2-core machine, so leave room for a loaded CI runner.
 */
export const CALL_TIMEOUT_MS = 10_000
/** Peak RSS of the child beyond which a call counts as an out-of-memory (Node's own baseline is ~50 MiB). */
export const MAX_RSS_MIB = 450

/**
 * A known, still open product bug: outcomes it explains are counted (and shown in the summary
 * line), not failed, so the suite stays green while the bug is open and any other failure still
 * fails. Reproduce the bug deterministically as an it.fails next to regressions.test.ts, and
 * delete the entry when the bug is fixed.
 */
export interface KnownBug {
  id: string
  /** Only on this Node major (e.g. 24); any when absent. */
  nodeMajor?: number
  /** An untyped error this bug explains. */
  matches?(outcome: Extract<SandboxOutcome, { status: 'raw' }>): boolean
  /** A dead child (its stderr) this bug explains. */
  matchesDeath?(stderr: string): boolean
  /** A call that timed out on this input (what the property passed to judge()). */
  matchesTimeout?(input: unknown): boolean
}

export interface Judge {
  /** Typed error kinds that are a correct answer to bad input (e.g. ["manifest"]). */
  kinds: string[]
  /** Input names a typed error may carry. */
  inputs: string[]
  knownBugs?: KnownBug[]
  /** Extra checks on a successful answer. */
  checkValue?: (value: unknown) => void
}

export interface FuzzStats {
  runs: number
  ok: number
  typed: number
  known: Record<string, number>
  slowestMs: number
  peakRssMiB: number
}

export function newStats(): FuzzStats {
  return { runs: 0, ok: 0, typed: 0, known: {}, slowestMs: 0, peakRssMiB: 0 }
}

/** Throws (so fast-check records a counterexample) unless the result is a correct answer. */
export function judge(result: SandboxResult, rule: Judge, stats: FuzzStats, nodeMajor: number, input?: unknown): void {
  stats.runs++
  const applies = (bug: KnownBug): boolean => bug.nodeMajor === undefined || bug.nodeMajor === nodeMajor
  if (result.status !== 'reply') {
    const bug = rule.knownBugs?.find((candidate) => applies(candidate) && (result.status === 'died' ? candidate.matchesDeath?.(result.stderr) : candidate.matchesTimeout?.(input)))
    if (bug) {
      stats.known[bug.id] = (stats.known[bug.id] ?? 0) + 1
      return
    }
  }
  if (result.status !== 'reply') throw new Error(describeResult(result))
  stats.slowestMs = Math.max(stats.slowestMs, result.ms)
  stats.peakRssMiB = Math.max(stats.peakRssMiB, result.maxRssKiB / 1024)
  if (result.maxRssKiB / 1024 > MAX_RSS_MIB) {
    throw new Error(`peak RSS ${Math.round(result.maxRssKiB / 1024)} MiB > ${MAX_RSS_MIB} MiB (an out-of-memory in the making); ${describeResult(result)}`)
  }
  const { outcome } = result
  if (outcome.status === 'ok') {
    rule.checkValue?.(outcome.value)
    stats.ok++
    return
  }
  if (outcome.status === 'typed') {
    if (!rule.kinds.includes(outcome.kind)) throw new Error(`typed error of an unexpected kind: ${describeResult(result)}`)
    if (outcome.input === null || !rule.inputs.includes(outcome.input)) throw new Error(`typed error naming an unexpected input: ${describeResult(result)}`)
    stats.typed++
    return
  }
  const bug = rule.knownBugs?.find((candidate) => applies(candidate) && candidate.matches?.(outcome))
  if (bug) {
    stats.known[bug.id] = (stats.known[bug.id] ?? 0) + 1
    return
  }
  throw new Error(`an untyped error escaped: ${describeResult(result)}`)
}

export interface Budget {
  numRuns: number
  timeLimitMs: number
  /** Inputs always tried first (fast-check `examples`). */
  examples?: unknown[]
}

/**
 * fc.assert with the suite's seed and bounds; a failure message leads with how to replay it.
 * Returns when the runs are done or the time limit is reached.
 */
export async function runProperty<T>(label: string, arbitrary: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, budget: Budget): Promise<void> {
  try {
    await fc.assert(
      fc.asyncProperty(arbitrary, async (value) => {
        await predicate(value)
      }),
      {
        seed: FUZZ_SEED,
        numRuns: Math.round(budget.numRuns * FUZZ_SCALE),
        interruptAfterTimeLimit: Math.round(budget.timeLimitMs * FUZZ_SCALE),
        markInterruptAsFailure: false,
        examples: (budget.examples ?? []).map((example) => [example] as [T]),
        // Shrinking re-runs the reader many times; keep it, but inside the same time bound.
        endOnFailure: false
      }
    )
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    throw new Error(`${label} failed. Replay: FUZZ_SEED=${FUZZ_SEED} FUZZ_SCALE=${FUZZ_SCALE} npx vitest run test/fuzz\n${message}`, { cause: error })
  }
}

export function summary(label: string, stats: FuzzStats): string {
  const known = Object.entries(stats.known)
    .map(([id, count]) => `${id}: ${count}`)
    .join(', ')
  return (
    `${label}: ${stats.runs} calls, ${stats.ok} ok, ${stats.typed} typed errors${known ? `, known bugs hit (${known})` : ''}; ` +
    `slowest ${Math.round(stats.slowestMs)} ms, child peak RSS ${Math.round(stats.peakRssMiB)} MiB; seed ${FUZZ_SEED}`
  )
}
