// The demo's sample firmware image: a 64 MiB GPT disk with a FAT "boot" partition and an ext4
// "rootfs" holding an aktualizr DeviceCred configuration, built with the standard tools (sfdisk,
// mkfs.vfat, mkfs.ext4) so it looks like what Yocto's wic produces.
import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, open, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { ToolError } from '../errors.js'

const run = promisify(execFile)

const MIB = 1024 * 1024
const SECTOR = 512
const BOOT = { startMiB: 1, sizeMiB: 16 }
const ROOT = { startMiB: 17, sizeMiB: 46 }
export const SAMPLE_IMAGE_SIZE = 64 * MIB

const TOOLS: Record<string, string> = { sfdisk: 'fdisk', 'mkfs.vfat': 'dosfstools', 'mkfs.ext4': 'e2fsprogs' }

async function tool(name: string, args: string[], input?: string): Promise<void> {
  try {
    const child = run(name, args, { maxBuffer: 16 * MIB })
    if (input !== undefined) child.child.stdin?.end(input)
    await child
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') {
      const pkg = TOOLS[name] ?? name
      throw new ToolError(`The demo needs ${name} to build its sample image: install it with \`sudo apt-get install -y ${pkg}\`.`)
    }
    throw new ToolError(`${name} failed while building the demo image: ${(error as { stderr?: string }).stderr?.trim() ?? String(error)}`)
  }
}

export async function buildSampleImage(file: string, workDir: string): Promise<void> {
  const handle = await open(file, 'w')
  await handle.truncate(SAMPLE_IMAGE_SIZE) // sparse: only what the tools write takes space
  await handle.close()
  const start = (mib: number): number => (mib * MIB) / SECTOR
  await tool(
    'sfdisk',
    ['--quiet', '--no-reread', '--no-tell-kernel', file],
    [
      'label: gpt',
      `start=${start(BOOT.startMiB)}, size=${start(BOOT.sizeMiB)}, type=U, name=boot`,
      `start=${start(ROOT.startMiB)}, size=${start(ROOT.sizeMiB)}, type=L, name=rootfs`,
      ''
    ].join('\n')
  )
  await tool('mkfs.vfat', ['-F', '16', '-n', 'BOOT', '--offset', String(start(BOOT.startMiB)), file, String(BOOT.sizeMiB * 1024)])

  // The root file system's content: what a Yocto image with aktualizr in DeviceCred mode ships.
  const tree = await mkdtemp(path.join(workDir, 'rootfs-'))
  try {
    await mkdir(path.join(tree, 'etc'), { recursive: true })
    await mkdir(path.join(tree, 'usr/lib/sota/conf.d'), { recursive: true })
    await mkdir(path.join(tree, 'var/sota'), { recursive: true })
    await writeFile(path.join(tree, 'etc/hostname'), 'credbake-demo\n')
    await writeFile(path.join(tree, 'etc/os-release'), 'NAME="credbake demo"\nID=credbake-demo\nVERSION_ID=1\n')
    await writeFile(
      path.join(tree, 'usr/lib/sota/conf.d/20-sota-device-cred.toml'),
      [
        '[provision]',
        'mode = "DeviceCred"',
        '',
        '[import]',
        'base_path = "/var/sota/import"',
        'tls_cacert_path = "root.crt"',
        'tls_clientcert_path = "client.pem"',
        'tls_pkey_path = "pkey.pem"',
        ''
      ].join('\n')
    )
    await tool('mkfs.ext4', ['-q', '-F', '-L', 'rootfs', '-d', tree, '-E', `offset=${ROOT.startMiB * MIB}`, file, `${ROOT.sizeMiB}M`])
  } finally {
    await rm(tree, { recursive: true, force: true })
  }
}
