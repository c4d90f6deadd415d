// Finding an OSTree physical sysroot in an ext partition without mounting it: /ostree/repo and
// /ostree/deploy/NAME/var for each stateroot NAME, with its deployments
// (/ostree/deploy/NAME/deploy/CHECKSUM.SERIAL), read with debugfs in two read-only runs. FAT cannot
// hold one (no symlinks, hard links or modes), so only ext partitions are looked at.
import { InputError } from '../errors.js'
import { isStaterootName, OSTREE_DEPLOY, staterootVar } from '../placement/ostree.js'
import { fileType, listExtDirs, type ExtReadOptions } from './debugfs.js'

export interface OstreeStateroot {
  name: string
  /** Deployment folders, "CHECKSUM.SERIAL", sorted. */
  deployments: string[]
}

export interface OstreeSysroot {
  stateroots: OstreeStateroot[]
  /** Entries of /ostree/deploy whose names credbake cannot use as a stateroot (shown, never used). */
  unusable: string[]
}

const DEPLOYMENT = /^[0-9a-f]{64}\.\d+$/

/**
 * The OSTree sysroot in the ext file system `opts` names, or null when there is none: no
 * /ostree/repo folder, or no stateroot with a var folder.
 */
export async function detectOstreeSysroot(opts: ExtReadOptions): Promise<OstreeSysroot | null> {
  const top = await listExtDirs(opts, ['/ostree', OSTREE_DEPLOY])
  const ostree = top.get('/ostree')
  const deploy = top.get(OSTREE_DEPLOY)
  if (!ostree || !deploy) return null
  if (!ostree.some((entry) => entry.name === 'repo' && fileType(entry.mode) === 'dir')) return null
  const folders = deploy.filter((entry) => fileType(entry.mode) === 'dir').map((entry) => entry.name)
  const named = folders.filter(isStaterootName).sort()
  const unusable = folders.filter((name) => !isStaterootName(name))
  const inner = await listExtDirs(
    opts,
    named.flatMap((name) => [`${OSTREE_DEPLOY}/${name}`, `${OSTREE_DEPLOY}/${name}/deploy`])
  )
  const stateroots: OstreeStateroot[] = []
  for (const name of named) {
    const root = inner.get(`${OSTREE_DEPLOY}/${name}`) ?? []
    if (!root.some((entry) => entry.name === 'var' && fileType(entry.mode) === 'dir')) continue
    const deployments = (inner.get(`${OSTREE_DEPLOY}/${name}/deploy`) ?? [])
      .filter((entry) => fileType(entry.mode) === 'dir' && DEPLOYMENT.test(entry.name))
      .map((entry) => entry.name)
      .sort()
    stateroots.push({ name, deployments })
  }
  return stateroots.length === 0 ? null : { stateroots, unusable }
}

function capitalized(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1)
}

/** "poky (deployment 1dec9f…eecd.0)", for messages. */
export function describeStateroot(stateroot: OstreeStateroot): string {
  const shown = stateroot.deployments.map((d) => `${d.slice(0, 6)}…${d.slice(d.indexOf('.') - 4)}`)
  if (shown.length === 0) return `${stateroot.name} (no deployment)`
  return `${stateroot.name} (deployment${shown.length > 1 ? 's' : ''} ${shown.join(', ')})`
}

/**
 * The stateroot whose /var receives the files: `wanted` (ostree-os) when it is one of the
 * sysroot's, else the only one. Several without a choice, or a choice that is not there, are
 * refused naming every stateroot (exit 2: the input decides).
 */
export function chooseStateroot(sysroot: OstreeSysroot, wanted: string | undefined, where: string): OstreeStateroot {
  const names = sysroot.stateroots.map((s) => s.name)
  if (wanted !== undefined) {
    const found = sysroot.stateroots.find((s) => s.name === wanted)
    if (found) return found
    throw new InputError(
      `Input "ostree-os" is "${wanted}", but the OSTree sysroot in ${where} has no such stateroot (no ${staterootVar(wanted)}); it has: ${sysroot.stateroots.map(describeStateroot).join('; ')}. Set ostree-os to one of ${names.join(', ')}.`,
      { input: 'ostree-os' }
    )
  }
  if (sysroot.stateroots.length === 1) return sysroot.stateroots[0]!
  throw new InputError(
    `${capitalized(where)} holds an OSTree sysroot with ${names.length} stateroots: ${sysroot.stateroots.map(describeStateroot).join('; ')}. ` +
      `Each has its own /var, so credbake does not guess: set ostree-os to the one the device boots (${names.map((n) => `ostree-os: ${n}`).join(' or ')}).`,
    { input: 'ostree-os' }
  )
}
