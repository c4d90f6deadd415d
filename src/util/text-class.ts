// Characters a reviewer cannot see or that change how text around them reads: what the manifest
// refuses in values that become a certificate's subject or SAN, and what subject templates refuse.
// (Logs escape the same characters: src/util/log-text.ts.)

/**
 * C0 and C1 controls (U+0000-U+001F, U+007F-U+009F, U+0085 among them), Unicode format characters
 * (category Cf: bidi embeddings, overrides and isolates, zero-width characters, U+FEFF, tags), line
 * and paragraph separators, and unpaired surrogates.
 */
const MISLEADING = /[\u0000-\u001f\u007f-\u009f\p{Cf}\p{Zl}\p{Zp}]|\p{Cs}/u

/** What kind of character `char` is, for a message: "a bidi control (U+202E)". */
export function describeMisleadingChar(char: string): string {
  const code = char.codePointAt(0) ?? 0
  const hex = `U+${code.toString(16).toUpperCase().padStart(4, '0')}`
  if (code <= 0x1f || (code >= 0x7f && code <= 0x9f)) return `a control character (${hex})`
  if ((code >= 0x202a && code <= 0x202e) || (code >= 0x2066 && code <= 0x2069) || code === 0x200e || code === 0x200f || code === 0x061c) {
    return `a bidi control (${hex}), which reorders the text around it`
  }
  if ((code >= 0x200b && code <= 0x200d) || code === 0x2060 || code === 0xfeff) return `an invisible zero-width character (${hex})`
  if (code === 0x2028 || code === 0x2029) return `a line or paragraph separator (${hex})`
  if (code >= 0xd800 && code <= 0xdfff) return `an unpaired surrogate (${hex}), not a character`
  return `an invisible format character (${hex})`
}

/** The first control or format character of `value`, described, or undefined when there is none. */
export function misleadingCharIn(value: string): string | undefined {
  const match = MISLEADING.exec(value)
  return match === null ? undefined : describeMisleadingChar(match[0])
}

/** 'leading' / 'trailing' when `value` starts / ends with white space (any Unicode space), else undefined. */
export function edgeSpaceOf(value: string): 'leading' | 'trailing' | undefined {
  if (/^\s/u.test(value)) return 'leading'
  if (/\s$/u.test(value)) return 'trailing'
  return undefined
}
