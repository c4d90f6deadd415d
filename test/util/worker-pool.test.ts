// The one worker pool's protocol, main side against a real worker thread: a small CommonJS worker
// (run with eval, as the light hashing threads are) that speaks { init } / { call, request } /
// { call, result | error }; and the same handler on this thread when there are no threads.
import { describe, expect, it } from 'vitest'
import { InputError } from '../../src/errors.js'
import { WorkerPool } from '../../src/util/worker-pool.js'

type Request = { op: 'add' | 'fail' | 'refuse' | 'exit' | 'note' | 'notes'; value?: number }

/** Adds the init's base; 'fail' throws a plain error with a code, 'refuse' a credbake error as serialized; 'note' is told, 'notes' counts. */
const SOURCE = `'use strict'
const { parentPort } = require('node:worker_threads')
let base
let notes = 0
parentPort.on('message', (message) => {
  if ('init' in message) { base = message.init.base; return }
  const { call, request } = message
  if (request.op === 'exit') process.exit(3)
  if (request.op === 'note') { notes++; if (call >= 0) throw new Error('a note got a call number'); return }
  if (request.op === 'notes') return parentPort.postMessage({ call, result: notes })
  if (request.op === 'fail') return parentPort.postMessage({ call, error: { kind: 'internal', message: 'no such file', plain: true, code: 'ENOENT' } })
  if (request.op === 'refuse') return parentPort.postMessage({ call, error: { kind: 'input', message: 'bad input', input: 'manifest' } })
  parentPort.postMessage({ call, result: base + request.value })
})
`

function open(init: { base: number }): (request: Request) => number {
  return (request) => {
    if (request.op === 'fail') throw Object.assign(new Error('no such file'), { code: 'ENOENT' })
    if (request.op === 'refuse') throw new InputError('bad input', { input: 'manifest' })
    return init.base + (request.value ?? 0)
  }
}

describe('the worker pool', () => {
  it('worker threads: calls answered per lane and to the least busy, errors revived with their kind or code, a note needs no answer', async () => {
    const pool = new WorkerPool<{ base: number }, Request, number>({ spec: { role: 'test', source: SOURCE, what: 'a test worker' }, threads: 2, init: { base: 100 }, open })
    try {
      expect(pool.threads).toBe(2)
      expect(await Promise.all([pool.call(0, { op: 'add', value: 1 }), pool.call(1, { op: 'add', value: 2 })])).toEqual([101, 102])
      expect(await Promise.all(Array.from({ length: 6 }, (_, i) => pool.callAny({ op: 'add', value: i })))).toEqual([100, 101, 102, 103, 104, 105])
      await expect(pool.call(0, { op: 'fail' })).rejects.toMatchObject({ message: 'no such file', code: 'ENOENT' })
      const refused = await pool.call(1, { op: 'refuse' }).catch((error: unknown) => error)
      expect(refused).toMatchObject({ kind: 'input', input: 'manifest', message: 'bad input' })
      pool.tell(0, { op: 'note' })
      pool.tell(0, { op: 'note' })
      expect(await pool.call(0, { op: 'notes' })).toBe(2)
    } finally {
      await pool.close()
    }
  })

  it('a thread that dies fails what waits on it and every later call, naming the worker', async () => {
    const pool = new WorkerPool<{ base: number }, Request, number>({ spec: { role: 'test', source: SOURCE, what: 'a test worker' }, threads: 1, init: { base: 0 }, open })
    try {
      await expect(pool.call(0, { op: 'exit' })).rejects.toThrow('a test worker exited with code 3')
      await expect(pool.call(0, { op: 'add', value: 1 })).rejects.toThrow('a test worker exited with code 3')
    } finally {
      await pool.close()
    }
  })

  it('no threads: the same handler on this thread, its errors as thrown', async () => {
    const pool = new WorkerPool<{ base: number }, Request, number>({ spec: { role: 'test', source: SOURCE, what: 'a test worker' }, threads: 0, init: { base: 10 }, open })
    expect(pool.threads).toBe(1)
    expect(await pool.callAny({ op: 'add', value: 5 })).toBe(15)
    await expect(pool.call(0, { op: 'refuse' })).rejects.toBeInstanceOf(InputError)
    await pool.close()
  })
})
