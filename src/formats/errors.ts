import { OutputError, isCredbakeError, messageOf } from '../errors.js'
import type { Device } from '../manifest/types.js'

const HINTS: Record<string, string> = {
  ENOSPC: 'the disk holding output-dir is full',
  EDQUOT: 'the disk quota for output-dir is exhausted',
  EACCES: 'output-dir is not writable by this user',
  EPERM: 'output-dir is not writable by this user',
  EROFS: 'output-dir is on a read-only file system'
}

/** Turn a file-system error while writing one device into an OutputError naming the device. */
export function wrapWriteError(error: unknown, device: Device, target: string): Error {
  if (isCredbakeError(error)) return error
  const code = (error as NodeJS.ErrnoException).code ?? ''
  const hint = HINTS[code]
  return new OutputError(`Could not write the output of device ${device.serial} (${target}): ${hint ?? messageOf(error)}${hint ? ` (${code})` : ''}.`, {
    serial: device.serial,
    cause: error
  })
}
