// The JSON reader must give a line for every syntax error, whatever Node's message looks like.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { describeJsonError, jsonSyntaxErrorOffset } from '../../src/manifest/json.js'
import { LineIndex } from '../../src/manifest/lines.js'

const lineOf = (text: string, offset: number): number => text.slice(0, offset).split('\n').length

describe('JSON error positions', () => {
  it('reads the Node 22+ message "(line X column Y)"', () => {
    const text = '[\n{"serial": "A1"},\n{"serial" "A2"}\n]'
    const error = new SyntaxError(`Expected ':' after property name in JSON at position 30 (line 3 column 11)`)
    expect(describeJsonError(text, error, new LineIndex(text))).toEqual({
      line: 3,
      message: `Expected ':' after property name (column 11)`
    })
  })

  it('converts the Node 20 message "at position N" to a line', () => {
    const text = '[\n{"serial": "A1"},\n{"serial" "A2"}\n]'
    // Position 30 is the quote of "A2": line 3, column 11.
    const error = new SyntaxError(`Expected ':' after property name in JSON at position 30`)
    expect(describeJsonError(text, error, new LineIndex(text))).toEqual({
      line: 3,
      message: `Expected ':' after property name (column 11)`
    })
  })

  it('finds the position itself when the message has none', () => {
    const text = '[\n{"serial": "A1"},\n\n{"serial": A2}\n]'
    const error = new SyntaxError(`Unexpected token 'A', ..."serial": A2}\n]" is not valid JSON`)
    expect(describeJsonError(text, error, new LineIndex(text))).toEqual({ line: 4, message: `Unexpected token 'A' (column 12)` })
  })

  it('agrees with JSON.parse on validity and on the line of the error (fuzzed)', () => {
    const punctuation = ['', ',', ']', '}', '"', '\\', ':', 'x', '\n', '0', '-', '[', '{', 'tru', '\u0001', '\n"', 'n\n']
    fc.assert(
      fc.property(
        fc.json({ maxDepth: 3 }).map((json) => json.replace(/,/g, ',\n')),
        fc.nat(),
        fc.constantFrom(...punctuation),
        fc.boolean(),
        (json, at, insert, remove) => {
          const p = at % (json.length + 1)
          const text = json.slice(0, p) + insert + json.slice(remove ? p + 1 : p)
          let message: string | undefined
          try {
            JSON.parse(text)
          } catch (error) {
            message = (error as Error).message
          }
          const offset = jsonSyntaxErrorOffset(text)
          expect(offset === -1).toBe(message === undefined)
          const position = message === undefined ? null : /at position (\d+)/.exec(message)
          if (position) expect(lineOf(text, offset)).toBe(lineOf(text, Number(position[1])))
        }
      ),
      { numRuns: 3000 }
    )
  })

  it('survives deep nesting without overflowing the stack', () => {
    const deep = '['.repeat(200_000) + ']'.repeat(199_999)
    expect(jsonSyntaxErrorOffset(deep)).toBe(deep.length)
  })
})
