// Shards split one manifest across a matrix of jobs (`shard: 2/8`).
import { createHash } from 'node:crypto'
import { InputError } from '../errors.js'
import type { Shard } from '../settings/types.js'
import type { DeviceList } from './list.js'
import type { Device } from './types.js'

export type { Shard }

/** Shard (1-based) a serial belongs to among `count` shards. */
export function shardOf(serial: string, count: number): number {
  // First 4 bytes of SHA-256(serial as UTF-8), big-endian uint32, modulo the count, plus one.
  // It depends on the serial alone, so a device lands in the same shard whatever the row order,
  // on every run and every machine, and the n shards of a manifest cover each device exactly once.
  return (createHash('sha256').update(serial, 'utf8').digest().readUInt32BE(0) % count) + 1
}

/** The devices of `shard`, in manifest order. */
export function selectShard(devices: readonly Device[], shard: Shard): Device[] {
  checkShard(shard)
  if (shard.count === 1) return [...devices]
  return devices.filter((device) => shardOf(device.serial, shard.count) === shard.index)
}

/** As selectShard, for a compact list: the same list when there is one shard. */
export function selectShardOf(devices: DeviceList, shard: Shard): DeviceList {
  checkShard(shard)
  if (shard.count === 1) return devices
  const rows: number[] = []
  for (let row = 0; row < devices.length; row++) if (shardOf(devices.serial(row), shard.count) === shard.index) rows.push(row)
  return devices.select(rows)
}

function checkShard({ index, count }: Shard): void {
  if (!Number.isInteger(count) || !Number.isInteger(index) || count < 1 || index < 1 || index > count) {
    throw new InputError(`Input "shard": ${index}/${count} is not a valid shard.`, { input: 'shard' })
  }
}
