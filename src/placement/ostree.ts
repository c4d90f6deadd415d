// Where a device path is stored on an OSTree system. The partition (meta-updater's `otaroot`,
// Torizon's rootfs) holds a physical sysroot: /ostree/repo, each stateroot's deployments
// /ostree/deploy/OS/deploy/CHECKSUM.N (the read-only /usr and a per-deployment /etc) and its
// writable /ostree/deploy/OS/var, which the booted system bind-mounts at /var. Only /var is shared
// by every deployment and kept across updates, so only device paths below /var can be baked, and
// they are stored below the stateroot's var. Pure rules, used by settings, bundles, sinks and
// verify alike (this module imports nothing).

export const OSTREE_DEPLOY = '/ostree/deploy'

/**
 * A stateroot name credbake accepts: what `ostree admin os-init` is given in practice (poky,
 * torizon, fedora-coreos …), and safe in the tools' scripts and in paths.
 */
export function isStaterootName(name: string): boolean {
  return /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,127}$/.test(name) && name !== '..'
}

/** The stateroot's var folder in the sysroot, e.g. /ostree/deploy/poky/var. */
export function staterootVar(os: string): string {
  return `${OSTREE_DEPLOY}/${os}/var`
}

function isUnder(devicePath: string, dir: string): boolean {
  return devicePath === dir || devicePath.startsWith(`${dir}/`)
}

/**
 * Why a device folder (or file) cannot hold credentials on an OSTree system, and what to use
 * instead; undefined when it can (it is /var or below).
 */
export function ostreePathRefusal(devicePath: string, os: string): string | undefined {
  if (isUnder(devicePath, '/var')) return undefined
  let why: string
  if (isUnder(devicePath, '/usr')) {
    why = `${devicePath} is under /usr, which on an OSTree system is the read-only deployment: the running system cannot change it and every update replaces it with the new commit's /usr, so nothing written there survives`
  } else if (isUnder(devicePath, '/etc')) {
    why = `${devicePath} is under /etc, which on an OSTree system belongs to one deployment (${OSTREE_DEPLOY}/${os}/deploy/CHECKSUM.N/etc) and is three-way merged into the next deployment on every upgrade: credentials written into the image's deployment are not where an upgraded system keeps its own changes`
  } else {
    why = `${devicePath} is outside /var: on an OSTree system everything but /var comes from the read-only deployment, and only /var (bind-mounted from ${staterootVar(os)}) is shared by every deployment and kept across updates`
  }
  return `${why}. Use a credentials-dir under /var, e.g. the default /var/sota/import (where aktualizr's DeviceCred import looks).`
}

/**
 * The path inside the sysroot of a device path under /var: /var/sota/import/pkey.pem →
 * /ostree/deploy/OS/var/sota/import/pkey.pem. Throws for any other path (callers refuse those
 * with ostreePathRefusal before anything is issued; this is the last guard).
 */
export function sysrootPath(devicePath: string, os: string): string {
  const refusal = ostreePathRefusal(devicePath, os)
  if (refusal !== undefined) throw new Error(refusal)
  return `${staterootVar(os)}${devicePath.slice('/var'.length)}`
}
