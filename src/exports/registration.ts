// Registration exports: a device registry's bulk registration (RegistryExport: AWS IoT, Azure DPS)
// as a review export, one JSON line per active device under exports/, plus the files the registry
// makes from the fleet CA certificate. The known registries by name, for the `exports` input (a
// comma list); each is one line of REVIEW_EXPORTS in src/exports/registry.ts.
import { parseExportNames } from '../settings/parse.js'
import type { DeviceIdRule } from '../manifest/rows.js'
import { awsIotExport } from './aws-iot.js'
import { azureDpsExport } from './azure-dps.js'
import { writeFile, rename } from 'node:fs/promises'
import path from 'node:path'
import { AtomicStream } from '../util/atomic-stream.js'
import { ensureFolderSync } from '../util/confined.js'
import { sha256File, tempSibling } from '../util/fsx.js'
import { sha256Hex } from '../util/hash.js'
import { commonNameOf } from '../x509/name.js'
import type { ExportedFile, RegistryDevice, RegistryExport, ReviewDevice, ReviewExport } from './types.js'

export const REGISTRY_EXPORTS: readonly RegistryExport[] = [awsIotExport, azureDpsExport]

/** The exports a comma list names, each once, in the registry's order; an unknown name is an InputError (the settings' rule). */
export function parseExports(value: string | undefined, input = 'exports'): RegistryExport[] {
  return registriesNamed(parseExportNames(value, input))
}

/** A device as a registry sees it, from what the review (or verify) knows of it. */
export function registryDevice(device: Pick<ReviewDevice, 'serial' | 'deviceId' | 'certificatePem' | 'subject'>): RegistryDevice {
  return { serial: device.serial, deviceId: device.deviceId, certificatePem: device.certificatePem, commonName: commonNameOf(device.subject) }
}

/** The registries a list of names asks for, each known (names come from parsed settings or a checked manifest). */
export function registriesNamed(names: readonly string[] | undefined): RegistryExport[] {
  return (names ?? []).flatMap((name) => REGISTRY_EXPORTS.filter((registry) => registry.name === name))
}

/**
 * The rules of the named registries as the manifest reader applies them to every row, so a device
 * a registry cannot take is refused with the manifest's other problems, before anything is issued.
 * The subject template makes the CN the device ID (src/issue/subject.ts), so the CN is known here.
 */
export function deviceIdRulesOf(names: readonly string[] | undefined): DeviceIdRule[] {
  return registriesNamed(names).map((registry) => ({
    name: registry.name,
    problem: (deviceId) => registry.check({ deviceId, commonName: deviceId }),
    ...(registry.idsIgnoreCase ? { ignoresCase: registry.idsIgnoreCase } : {})
  }))
}

/** The review export of one registry: `exports/NAME.jsonl` and its fleet CA files. */
export function registrationExport(registry: RegistryExport): ReviewExport {
  return {
    name: registry.name,
    always: false,
    files: [registry.jsonlPath, ...registry.caFilePaths],
    runFiles: registry.caFilePaths,
    open(run) {
      const jsonlFile = path.join(run.outputDir, registry.jsonlPath)
      // exports/ is made here or checked to be a real folder: never a planted link.
      ensureFolderSync(path.dirname(jsonlFile))
      const jsonl = new AtomicStream(jsonlFile)
      let devices = 0
      return {
        device: (device) => {
          jsonl.push(`${registry.line(registryDevice(device))}\n`)
          devices++
        },
        drain: () => jsonl.flushIfFull(),
        commit: async () => {
          await jsonl.commit()
          const written: ExportedFile[] = [{ path: registry.jsonlPath, sha256: await sha256File(jsonlFile), devices }]
          // In a merge the fleet CA's files are carried from the shards instead.
          if (run.fleetCaPem === undefined) return written
          for (const file of registry.caFiles(run.fleetCaPem)) {
            const target = path.join(run.outputDir, file.path)
            const temp = tempSibling(target)
            await writeFile(temp, file.text, { mode: 0o644, flag: 'wx' })
            await rename(temp, target)
            written.push({ path: file.path, sha256: sha256Hex(Buffer.from(file.text)) })
          }
          return written
        },
        abandon: () => jsonl.abandon()
      }
    }
  }
}
