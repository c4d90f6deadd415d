// Asking the fleet CA's signer for many signatures at once (a token, KMS or signer program), with
// up to `signer.concurrency` in flight, in order. After the first failure no further signature is
// asked for; the first failure in device order is the one thrown, naming the device.
// Every answer passes here on the main thread, so this is where a repeated signature is caught
// (the same bytes as an earlier answer: HandedBack); whether each one verifies is checked where
// its certificate is assembled (sealSigned), on the worker threads when there are some.
import { CredbakeError, FleetCaError, messageOf } from '../errors.js'
import { badSignatureError, handedBackBy, repeatedSignatureProblem, signatureShapeProblem } from '../signer/signature-check.js'
import type { CaSigner } from '../signer/types.js'

export async function signAll(signer: CaSigner, items: ReadonlyArray<{ tbs: Buffer; serial: string }>): Promise<Uint8Array[]> {
  const signatures: Uint8Array[] = new Array(items.length)
  const failures: Array<{ index: number; error: unknown }> = []
  const handedBack = handedBackBy(signer)
  let next = 0
  const lane = async (): Promise<void> => {
    while (failures.length === 0 && next < items.length) {
      const index = next++
      const { tbs, serial } = items[index] as { tbs: Buffer; serial: string }
      try {
        const signature = await signer.sign(tbs)
        const earlier = handedBack.note(signature, `device ${serial}`)
        // A malformed answer is named as such where it is verified, even when it repeats.
        if (earlier !== undefined && !signatureShapeProblem(signer.publicKey, signature)) {
          throw badSignatureError(signer.description, serial, repeatedSignatureProblem(earlier))
        }
        signatures[index] = signature
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
