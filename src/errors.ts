// Typed errors. Every error a user can cause carries the input it is about, so the message can
// name it; the CLI maps the class to an exit code (documented in README "Exit codes").

export type ErrorKind = 'input' | 'manifest' | 'fleet-ca' | 'image' | 'tool' | 'output' | 'lock' | 'verify' | 'cancelled' | 'internal'

export interface ErrorDetails {
  /** The action input / CLI flag the problem is about, e.g. "fleet-ca-key". */
  input?: string
  /** A file the problem is in (manifest, image, PEM path). */
  file?: string
  /** 1-based line in `file`, for annotations. */
  line?: number
  /** Serial of the device being processed, when the error is about one device. */
  serial?: string
  cause?: unknown
}

export class CredbakeError extends Error {
  readonly kind: ErrorKind
  readonly input?: string
  readonly file?: string
  readonly line?: number
  readonly serial?: string

  constructor(kind: ErrorKind, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = new.target.name
    this.kind = kind
    this.input = details.input
    this.file = details.file
    this.line = details.line
    this.serial = details.serial
  }
}

/** An option value that is missing, malformed or contradicts another option. */
export class InputError extends CredbakeError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('input', message, details)
  }
}

/** A problem in the device manifest; `file` and `line` point at the row. */
export class ManifestError extends CredbakeError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('manifest', message, { input: 'manifest', ...details })
  }
}

/** The fleet CA certificate or key cannot be used to issue device certificates. */
export class FleetCaError extends CredbakeError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('fleet-ca', message, details)
  }
}

/** The base image, its partition table or file system cannot be used. */
export class ImageError extends CredbakeError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('image', message, { input: 'image', ...details })
  }
}

/** An external tool (debugfs, mtools, xz, zstd) is missing or failed. */
export class ToolError extends CredbakeError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('tool', message, details)
  }
}

/** Outputs cannot be written (permissions, disk full, partition full). */
export class OutputError extends CredbakeError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('output', message, { input: 'output-dir', ...details })
  }
}

/** Another credbake process holds the output directory. */
export class LockError extends CredbakeError {
  constructor(message: string, details: ErrorDetails = {}) {
    super('lock', message, { input: 'output-dir', ...details })
  }
}

/**
 * The run was stopped by SIGINT, SIGTERM or SIGHUP (src/util/cancel.ts): the message is the one
 * line that says what was done; the exit code is 128 + the signal's number, as a shell reports it.
 */
export class CancelledError extends CredbakeError {
  constructor(
    readonly signal: 'SIGINT' | 'SIGTERM' | 'SIGHUP',
    message: string
  ) {
    super('cancelled', message)
  }

  get exitCode(): number {
    return 128 + SIGNAL_NUMBERS[this.signal]
  }
}

export const SIGNAL_NUMBERS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const

/** Exit codes of the CLI (and of `node dist/index.js`, which exits 1 on any failure as actions do). */
export const EXIT_CODES: Record<ErrorKind | 'ok', number> = {
  ok: 0,
  internal: 1,
  input: 2,
  manifest: 2,
  'fleet-ca': 3,
  image: 4,
  tool: 4,
  output: 5,
  lock: 6,
  /** `credbake verify`: outputs differ from their review manifest (not thrown: the command's result). */
  verify: 7,
  /** SIGINT (130); SIGTERM gives 143, SIGHUP 129 (CancelledError.exitCode). */
  cancelled: 130
}

export function isCredbakeError(error: unknown): error is CredbakeError {
  return error instanceof CredbakeError
}

/** Message of any thrown value, for wrapping errors from libraries. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** An error as it crosses from a worker thread (structured clone keeps no classes). */
export type SerializedError = {
  kind: string
  message: string
  input?: string
  file?: string
  line?: number
  serial?: string
}

export function serializeError(error: unknown): SerializedError {
  if (isCredbakeError(error)) {
    return { kind: error.kind, message: error.message, input: error.input, file: error.file, line: error.line, serial: error.serial }
  }
  return { kind: 'internal', message: messageOf(error) }
}

/** The error again on the receiving side, with its kind (exit code), input, file:line and serial. */
export function reviveError(error: SerializedError): CredbakeError {
  return new CredbakeError(error.kind as ErrorKind, error.message, {
    input: error.input,
    file: error.file,
    line: error.line,
    serial: error.serial
  })
}
