// Asking the fleet CA's signer for many signatures at once (a token, KMS or signer program), with
// up to `signer.concurrency` in flight, in order. After the first failure no further signature is
// asked for; the first failure in device order is the one thrown, naming the device.
import { CredbakeError, FleetCaError, messageOf } from '../errors.js'
import type { CaSigner } from '../signer/types.js'

export async function signAll(signer: CaSigner, items: ReadonlyArray<{ tbs: Buffer; serial: string }>): Promise<Uint8Array[]> {
  const signatures: Uint8Array[] = new Array(items.length)
  const failures: Array<{ index: number; error: unknown }> = []
  let next = 0
  const lane = async (): Promise<void> => {
    while (failures.length === 0 && next < items.length) {
      const index = next++
      try {
        signatures[index] = await signer.sign((items[index] as { tbs: Buffer }).tbs)
      } catch (error) {
        failures.push({ index, error })
      }
    }
  }
  await Promise.all(Array.from({ length: Math.max(1, Math.min(signer.concurrency, items.length)) }, lane))
  if (failures.length) {
    const first = failures.sort((a, b) => a.index - b.index)[0] as { index: number; error: unknown }
    if (first.error instanceof CredbakeError) throw first.error
    const serial = items[first.index]?.serial
    throw new FleetCaError(`fleet-ca-key: ${signer.description} failed to sign device ${serial}: ${messageOf(first.error)}`, {
      input: 'fleet-ca-key',
      ...(serial ? { serial } : {}),
      cause: first.error
    })
  }
  return signatures
}
