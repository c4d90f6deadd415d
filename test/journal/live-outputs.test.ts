// The resume state's per-device outputs are held in columns: they must behave exactly as the Map
// of LiveOutput objects they replace (order, overwrite, delete and re-add, odd texts).
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { LiveOutputs, type LiveOutput } from '../../src/journal/state.js'

const sha = (text: string): string => createHash('sha256').update(text).digest('hex')

function output(serial: string, k: number): LiveOutput {
  const odd = k % 7 === 3
  return {
    certificateSha256: odd ? `${sha(`c${k}`).toUpperCase()}` : sha(`c${k}`),
    path: k % 5 === 0 ? `elsewhere/${k}.tar` : k % 11 === 0 ? `odd\u0001/${serial}.tar` : `overlays/${serial}.tar`,
    sha256: k % 13 === 0 ? 'not-a-digest' : sha(`o${k}`),
    ...(k % 4 === 0 ? { bmap: { path: `images/${serial}.img.bmap`, sha256: sha(`b${k}`) } } : {}),
    deviceBasis: JSON.stringify({ deviceId: k % 3 ? serial : `id-${k}`, subject: `CN=${serial},O=${serial}`, sanSha256: null, csrSha256: null }),
    runBasis: `{"run":${k % 3}}`,
    beforeOverwrite: k % 9 === 0
  }
}

describe('LiveOutputs', () => {
  it('behaves as a Map of LiveOutput through sets, overwrites, deletes and re-adds', () => {
    const live = new LiveOutputs()
    const reference = new Map<string, LiveOutput>()
    let seed = 7
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    for (let step = 0; step < 6000; step++) {
      const serial = `S-${random(1500)}`
      const action = random(10)
      if (action < 7) {
        const value = output(serial, step)
        live.set(serial, value)
        reference.set(serial, value)
      } else if (action < 9) {
        expect(live.delete(serial)).toBe(reference.delete(serial))
      } else {
        live.markBeforeOverwrite()
        for (const value of reference.values()) value.beforeOverwrite = true
      }
      expect(live.get(serial)).toEqual(reference.get(serial))
    }
    expect(live.size).toBe(reference.size)
    expect([...live]).toEqual([...reference])
    // Key order of each output, as the resume golden state shows it.
    for (const [serial, value] of live) expect(Object.keys(value)).toEqual(Object.keys(reference.get(serial)!))
    expect(live.get('S-none')).toBeUndefined()
    expect(live.has('S-none')).toBe(false)
  })
})
