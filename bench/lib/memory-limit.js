'use strict'
// A hard memory limit for one process tree, as a small machine would have: a child of this
// process's own memory cgroup (cgroup v2 `memory.max`, or v1 `memory.limit_in_bytes`), which the
// server then sees (Node's process.constrainedMemory reads both) and the kernel enforces (the OOM
// killer, no swap). Measured here (a container as root, PID 1 not systemd, so no
// `systemd-run --scope`): cgroup v1's memory controller is mounted and a child of our own cgroup
// can be made; v2 (/sys/fs/cgroup/unified) has no memory controller. Without either, only a
// watcher: the server then sees the whole machine, and the report says so.

const fs = require('fs')
const path = require('path')

const read = (file) => {
  try {
    return fs.readFileSync(file, 'utf8').trim()
  } catch {
    return null
  }
}

/** This process's cgroup paths: `{ v2, v1memory }` (from /proc/self/cgroup). */
function ownCgroups() {
  const lines = (read('/proc/self/cgroup') || '').split('\n')
  const v2 = lines.find((l) => l.startsWith('0::'))
  const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes('memory'))
  return { v2: v2 ? v2.slice(3) : null, v1memory: v1 ? v1.split(':').slice(2).join(':') : null }
}

/** A flat-keyed cgroup file (`key value` lines) as an object; empty when it cannot be read. */
const keyValues = (file) => Object.fromEntries((read(file) || '').split('\n').map((l) => l.split(' ')))

/**
 * Makes the cgroup `dir` and writes `limits` into it ([file, value] pairs; a file after the first
 * that this kernel does not have is skipped). True when made; false (and nothing left) otherwise.
 */
function makeCgroup(dir, limits) {
  const [first, ...rest] = limits
  try {
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, first[0]), first[1])
    for (const [file, value] of rest) {
      if (fs.existsSync(path.join(dir, file))) fs.writeFileSync(path.join(dir, file), value)
    }
    return true
  } catch {
    removeDir(dir)
    return false
  }
}

function tryV2(bytes, name, own) {
  const base = '/sys/fs/cgroup'
  if (own === null || !fs.existsSync(path.join(base, 'cgroup.controllers'))) return null
  const parent = path.join(base, own)
  if (!(read(path.join(parent, 'cgroup.subtree_control')) || '').split(' ').includes('memory')) return null
  const dir = path.join(parent, name)
  const limits = [
    ['memory.max', String(bytes)],
    ['memory.swap.max', '0'],
  ]
  if (!makeCgroup(dir, limits)) return null
  return {
    kind: 'cgroup v2 memory.max',
    dir,
    // memory.peak exists from Linux 5.19; before that, the watcher's samples of memory.current.
    usage: () => Number(read(path.join(dir, 'memory.current')) || 0),
    peak: () => Number(read(path.join(dir, 'memory.peak')) || 0) || null,
    oomKills: () => Number(keyValues(path.join(dir, 'memory.events')).oom_kill || 0),
  }
}

function tryV1(bytes, name, own) {
  if (own === null) return null
  const parent = path.join('/sys/fs/cgroup/memory', own)
  if (!fs.existsSync(path.join(parent, 'memory.limit_in_bytes'))) return null
  const dir = path.join(parent, name)
  // No swap: memory+swap limited to the same (absent when the kernel does not account swap).
  const limits = [
    ['memory.limit_in_bytes', String(bytes)],
    ['memory.memsw.limit_in_bytes', String(bytes)],
  ]
  if (!makeCgroup(dir, limits)) return null
  return {
    kind: 'cgroup v1 memory.limit_in_bytes',
    dir,
    usage: () => Number(read(path.join(dir, 'memory.usage_in_bytes')) || 0),
    peak: () => Number(read(path.join(dir, 'memory.max_usage_in_bytes')) || 0) || null,
    // `oom_kill` is counted from Linux 4.13; `failcnt` (times the limit was hit, page cache
    // reclaimed included) is no OOM by itself.
    oomKills: () => Number(keyValues(path.join(dir, 'memory.oom_control')).oom_kill || 0),
  }
}

function removeDir(dir) {
  try {
    fs.rmdirSync(dir)
  } catch {}
}

/**
 * A memory limit of `bytes` for what `wrap` starts, or `{ kind: null }` when none can be made.
 * `wrap(command, args)`: the command and args that start it inside the limit (the process moves
 * itself in, then execs: its pid is the command's). `remove()` once it has exited.
 */
function memoryLimit(bytes) {
  const name = `gatsby-dsg-fit-${process.pid}`
  const own = ownCgroups()
  const limit = tryV2(bytes, name, own.v2) || tryV1(bytes, name, own.v1memory)
  if (!limit)
    return {
      kind: null,
      wrap: (command, args) => [command, args],
      usage: () => null,
      peak: () => null,
      oomKills: () => null,
      remove() {},
    }
  return {
    ...limit,
    wrap: (command, args) => [
      '/bin/sh',
      ['-c', 'echo $$ > "$0/cgroup.procs" && exec "$@"', limit.dir, command, ...args],
    ],
    remove() {
      // A cgroup is removable once its processes are gone (they may take a moment to be reaped).
      for (let i = 0; i < 50 && fs.existsSync(limit.dir); i++) {
        removeDir(limit.dir)
        if (fs.existsSync(limit.dir)) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
      }
    },
  }
}

module.exports = { memoryLimit }
