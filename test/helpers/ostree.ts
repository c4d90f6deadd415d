// OSTree images for tests, made the way meta-updater's image_types_ota.bbclass makes them, with
// the real `ostree` CLI (Debian package ostree) and no root needed: a bare-user-only repository
// holding one commit (a tree with a kernel, usr/lib/modules/VERSION/vmlinuz, and an os-release),
// `ostree admin init-fs` of a physical sysroot, `os-init` and `pull-local` and `deploy` per
// stateroot, meta-updater's move of var/sota into the stateroot's var, then `mkfs.ext4 -L otaroot
// -d SYSROOT` into a GPT or MBR image beside a boot partition.
//
// `ostree admin deploy` makes each deployment immutable (chattr +i): the sysroot folder is made
// mutable again (`chattr -R -i`) and removed as soon as the file system is made.
//
//   const image = await buildOstreeImage(dir, { table: 'gpt', stateroots: ['poky'] })
//   image.part('otaroot').start, image.commit, image.deployments.poky  // ["<commit>.0"]
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import path from 'node:path'
import { buildGptOf, buildMbrOf, MiB, run, runStatus, type BuiltImage, type FsSpec, type Tree } from './images.js'

export interface OstreeImage extends BuiltImage {
  /** The commit every stateroot deploys. */
  commit: string
  /** Per stateroot: its deployment folders (CHECKSUM.SERIAL). */
  deployments: Record<string, string[]>
}

export interface OstreeImageOptions {
  table: 'gpt' | 'mbr'
  stateroots: string[]
  file?: string
  /** Files put into each stateroot's var (device paths below /var, e.g. { 'sota/import/old.pem': '…' }). */
  varFiles?: Tree
  /** meta-updater moves the rootfs's var/sota into the stateroot's var: an empty sota folder. Default true. */
  sotaFolder?: boolean
}

function ostree(args: string[]): string {
  return run('ostree', args).trim()
}

/** Remove a folder that may hold immutable OSTree deployments. */
export function removeSysroot(folder: string): void {
  if (!existsSync(folder)) return
  // chattr also reports the symlinks it cannot read flags of (boot/loader …): its exit status says
  // nothing here; rmSync below fails if anything stayed immutable.
  runStatus('chattr', ['-R', '-i', folder])
  rmSync(folder, { recursive: true, force: true })
}

/** A physical sysroot in `folder` with one deployment of one commit per stateroot. */
export function makeSysroot(
  work: string,
  folder: string,
  options: Pick<OstreeImageOptions, 'stateroots' | 'varFiles' | 'sotaFolder'>
): { commit: string; deployments: Record<string, string[]> } {
  const repo = path.join(work, 'build-repo')
  const tree = path.join(work, 'build-tree')
  rmSync(repo, { recursive: true, force: true })
  rmSync(tree, { recursive: true, force: true })
  for (const [file, content] of Object.entries({
    'usr/lib/modules/6.1.0-test/vmlinuz': 'not really a kernel\n',
    'usr/lib/os-release': 'ID=credbake-test\nPRETTY_NAME="credbake test OS"\n',
    'usr/bin/aktualizr': '#!/bin/sh\n',
    'usr/etc/hostname': 'device\n'
  })) {
    mkdirSync(path.dirname(path.join(tree, file)), { recursive: true })
    writeFileSync(path.join(tree, file), content)
  }
  ostree([`--repo=${repo}`, 'init', '--mode=bare-user-only'])
  const commit = ostree([`--repo=${repo}`, 'commit', '--branch=credbake/test', `--tree=dir=${tree}`, '--subject=test'])
  mkdirSync(folder, { recursive: true })
  ostree(['admin', 'init-fs', folder])
  const deployments: Record<string, string[]> = {}
  for (const name of options.stateroots) {
    ostree(['admin', `--sysroot=${folder}`, 'os-init', name])
    ostree([`--repo=${path.join(folder, 'ostree/repo')}`, 'pull-local', `--remote=${name}`, repo, commit])
    ostree(['admin', `--sysroot=${folder}`, 'deploy', `--os=${name}`, commit])
    const varDir = path.join(folder, 'ostree/deploy', name, 'var')
    if (options.sotaFolder ?? true) mkdirSync(path.join(varDir, 'sota'), { recursive: true })
    for (const [file, content] of Object.entries(options.varFiles ?? {})) {
      mkdirSync(path.dirname(path.join(varDir, file)), { recursive: true })
      writeFileSync(path.join(varDir, file), content)
    }
    deployments[name] = [`${commit}.0`]
  }
  rmSync(repo, { recursive: true, force: true })
  rmSync(tree, { recursive: true, force: true })
  return { commit, deployments }
}

/**
 * A disk image whose partition labelled `otaroot` (ext4, 48 MiB) holds a physical sysroot, after a
 * FAT16 boot partition (label BOOT): GPT (names boot, otaroot) or MBR.
 */
export async function buildOstreeImage(dir: string, options: OstreeImageOptions): Promise<OstreeImage> {
  const sysroot = path.join(dir, `sysroot-${options.table}-${options.stateroots.join('-')}`)
  try {
    const { commit, deployments } = makeSysroot(dir, sysroot, options)
    const specs: FsSpec[] = [
      { fs: 'fat16', size: 16 * MiB, label: 'BOOT', name: 'boot' },
      { fs: 'ext4', size: 48 * MiB, label: 'otaroot', name: 'otaroot', contentDir: sysroot }
    ]
    const file = options.file ?? `ostree-${options.table}-${options.stateroots.join('-')}.img`
    const image = options.table === 'gpt' ? await buildGptOf(dir, file, specs) : await buildMbrOf(dir, file, specs)
    return { ...image, commit, deployments }
  } finally {
    removeSysroot(sysroot)
  }
}
