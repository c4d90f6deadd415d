// Preload (`node -r ./bench/peak-rss.cjs ...`): at exit, print the process's peak resident set
// (VmHWM from /proc/self/status, which counts every thread, worker threads included) to stderr
// as one line `credbake-peak-rss-kib: N`, for bench/memory.js to read. Linux only; silent elsewhere.
// With CREDBAKE_MEMORY_LOG=MS, also a line every MS milliseconds: seconds since start, VmRSS, and
// the main thread's heap used, external and array-buffer bytes (MiB), to see which phase grows.
'use strict'
const { readFileSync, writeSync } = require('node:fs')
const { isMainThread } = require('node:worker_threads')

if (isMainThread) {
  const every = Number(process.env.CREDBAKE_MEMORY_LOG ?? 0)
  if (every > 0) {
    const started = Date.now()
    const mib = (bytes) => (bytes / 1048576).toFixed(0)
    const timer = setInterval(() => {
      let rss = '?'
      try {
        rss = String(Number(/^VmRSS:\s*(\d+)/m.exec(readFileSync('/proc/self/status', 'utf8'))[1]) >> 10)
      } catch {}
      const m = process.memoryUsage()
      writeSync(2, `credbake-memory: t=${((Date.now() - started) / 1000).toFixed(1)}s rss=${rss} heapUsed=${mib(m.heapUsed)} heapTotal=${mib(m.heapTotal)} external=${mib(m.external)} arrayBuffers=${mib(m.arrayBuffers)}\n`)
    }, every)
    timer.unref()
  }
  process.on('exit', () => {
    try {
      const status = readFileSync('/proc/self/status', 'utf8')
      const peak = /^VmHWM:\s*(\d+)\s*kB/m.exec(status)
      if (peak) writeSync(2, `credbake-peak-rss-kib: ${peak[1]}\n`)
    } catch {
      // not Linux: nothing to report
    }
  })
}
