#!/usr/bin/env node
// Regenerates the binary / PKI files of the bad-input corpus (test/corpus/pki and
// test/corpus/images). They are committed; this script only documents how they were made and lets
// someone rebuild them (e.g. to add a case). It was run ONCE; running it again produces different
// keys and must be followed by a commit of the new files.
//
//   node test/corpus/generate.mjs            # needs openssl, sfdisk, mkfs.ext4, mkfs.vfat, gzip, xz
//
// Every key here is a throwaway TEST key, public in this repository: never trust it anywhere.
// Passphrase of the encrypted keys: "corpus-passphrase" (see README.md).
import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, openSync, writeSync, closeSync, readSync, truncateSync, statSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const here = path.dirname(new URL(import.meta.url).pathname)
const pki = path.join(here, 'pki')
const images = path.join(here, 'images')
const work = mkdtempSync(path.join(os.tmpdir(), 'credbake-corpus-gen-'))
export const PASSPHRASE = 'corpus-passphrase'

function run(cmd, args, opts = {}) {
  return execFileSync(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, ...opts.env }, input: opts.input }).toString('utf8')
}
const openssl = (args, opts) => run('openssl', args, opts)

// ---- PKI ------------------------------------------------------------------------------------

function key(name, algorithm) {
  const file = path.join(pki, `${name}.key`)
  const args = {
    p256: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'],
    secp256k1: ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:secp256k1'],
    rsa1024: ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:1024']
  }[algorithm]
  openssl(['genpkey', ...args, '-out', file])
  return file
}

/**
 * A certificate made by `openssl ca` (which, unlike `req -x509` in OpenSSL 3.0, can set any start
 * and end date). `issuer` undefined: self-signed.
 */
function cert(name, { keyFile, subject, start, end, ext, issuer }) {
  const db = path.join(work, `db-${name}`)
  mkdirSync(db, { recursive: true })
  writeFileSync(path.join(db, 'index.txt'), '')
  writeFileSync(path.join(db, 'serial'), '01\n')
  const cnf = path.join(db, 'openssl.cnf')
  writeFileSync(
    cnf,
    [
      '[ ca ]',
      'default_ca = c',
      '[ c ]',
      `database = ${db}/index.txt`,
      `new_certs_dir = ${db}`,
      `serial = ${db}/serial`,
      'policy = p',
      'unique_subject = no',
      '[ p ]',
      'commonName = optional',
      '[ e ]',
      ...ext,
      ''
    ].join('\n')
  )
  const csr = path.join(db, 'req.csr')
  openssl(['req', '-new', '-key', keyFile, '-subj', subject, '-out', csr])
  const out = path.join(pki, `${name}.crt`)
  const signer = issuer ? ['-cert', issuer.cert, '-keyfile', issuer.key] : ['-selfsign', '-keyfile', keyFile]
  openssl([
    'ca',
    '-batch',
    '-config',
    cnf,
    ...signer,
    '-in',
    csr,
    '-out',
    out,
    '-notext',
    '-rand_serial',
    '-preserveDN',
    '-startdate',
    start,
    '-enddate',
    end,
    '-extensions',
    'e',
    '-md',
    'sha256'
  ])
  return out
}

const CA_EXT = ['basicConstraints = critical,CA:TRUE', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always']
const LONG = { start: '20250101000000Z', end: '21250101000000Z' } // 100 years

function derOf(pemFile) {
  const text = readFileSync(pemFile, 'utf8')
  return Buffer.from(/-----BEGIN CERTIFICATE-----([\s\S]*?)-----END/.exec(text)[1].replace(/\s+/g, ''), 'base64')
}
function writeCertPem(file, der) {
  writeFileSync(
    file,
    `-----BEGIN CERTIFICATE-----\n${der
      .toString('base64')
      .match(/.{1,64}/g)
      .join('\n')}\n-----END CERTIFICATE-----\n`
  )
}

function makePki() {
  rmSync(pki, { recursive: true, force: true })
  mkdirSync(pki, { recursive: true })

  // The good fleet CA every case starts from.
  const caKey = key('ca', 'p256')
  const caCert = cert('ca', { keyFile: caKey, subject: '/CN=credbake corpus CA/O=credbake tests', ...LONG, ext: CA_EXT })
  openssl(['pkcs8', '-topk8', '-in', caKey, '-v2', 'aes-256-cbc', '-passout', 'env:PW', '-out', path.join(pki, 'ca.enc.key')], { env: { PW: PASSPHRASE } })
  // Legacy OpenSSL encryption (Proc-Type/DEK-Info headers in a SEC1 block).
  openssl(['ec', '-in', caKey, '-aes256', '-passout', 'env:PW', '-out', path.join(pki, 'ca.legacy-enc.key')], { env: { PW: PASSPHRASE } })
  writeFileSync(path.join(pki, 'ca.der'), derOf(caCert))
  openssl(['pkey', '-in', caKey, '-pubout', '-out', path.join(pki, 'ca.pub')])
  openssl(['req', '-new', '-key', caKey, '-subj', '/CN=credbake corpus CSR', '-out', path.join(pki, 'ca.csr')])

  // A key belonging to nothing (key/cert mismatch).
  key('other', 'p256')

  // An intermediate below the CA (for a chain listed in the wrong order).
  const interKey = key('intermediate', 'p256')
  cert('intermediate', {
    keyFile: interKey,
    subject: '/CN=credbake corpus intermediate/O=credbake tests',
    start: LONG.start,
    end: '21241231000000Z',
    ext: ['basicConstraints = critical,CA:TRUE,pathlen:0', 'keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always'],
    issuer: { cert: caCert, key: caKey }
  })

  // An end-entity certificate (CA:FALSE) with its key: "not a CA".
  const leafKey = key('leaf', 'p256')
  cert('leaf', {
    keyFile: leafKey,
    subject: '/CN=credbake corpus leaf',
    start: LONG.start,
    end: '21241231000000Z',
    ext: [
      'basicConstraints = critical,CA:FALSE',
      'keyUsage = critical,digitalSignature',
      'extendedKeyUsage = clientAuth',
      'subjectKeyIdentifier = hash',
      'authorityKeyIdentifier = keyid:always'
    ],
    issuer: { cert: caCert, key: caKey }
  })

  // Same CA key, certificates that are wrong in one way each.
  cert('ca-no-basic-constraints', {
    keyFile: caKey,
    subject: '/CN=credbake corpus CA without basicConstraints',
    ...LONG,
    ext: ['keyUsage = critical,keyCertSign,cRLSign', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always']
  })
  cert('ca-no-keycertsign', {
    keyFile: caKey,
    subject: '/CN=credbake corpus CA without keyCertSign',
    ...LONG,
    ext: ['basicConstraints = critical,CA:TRUE', 'keyUsage = critical,digitalSignature', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid:always']
  })
  cert('ca-eku-serverauth', { keyFile: caKey, subject: '/CN=credbake corpus CA limited to serverAuth', ...LONG, ext: [...CA_EXT, 'extendedKeyUsage = serverAuth'] })

  // Expired (2000-2001) and not yet valid (2100-2200) CAs, each with its own key.
  const expiredKey = key('expired-ca', 'p256')
  cert('expired-ca', { keyFile: expiredKey, subject: '/CN=credbake corpus expired CA', start: '20000101000000Z', end: '20010101000000Z', ext: CA_EXT })
  const futureKey = key('future-ca', 'p256')
  cert('future-ca', { keyFile: futureKey, subject: '/CN=credbake corpus future CA', start: '21000101000000Z', end: '22000101000000Z', ext: CA_EXT })

  // Keys credbake must refuse as a CA key: RSA-1024 and secp256k1.
  const weakKey = key('rsa1024-ca', 'rsa1024')
  cert('rsa1024-ca', { keyFile: weakKey, subject: '/CN=credbake corpus RSA-1024 CA', ...LONG, ext: CA_EXT })
  const k1Key = key('secp256k1-ca', 'secp256k1')
  cert('secp256k1-ca', { keyFile: k1Key, subject: '/CN=credbake corpus secp256k1 CA', ...LONG, ext: CA_EXT })

  // DER surgery on the good CA: an extension whose value is not what its OID promises. The CA is
  // self-signed, so nothing re-checks the signature; OpenSSL still parses the certificate.
  const der = derOf(caCert)
  const patch = (name, find, at, value) => {
    const copy = Buffer.from(der)
    const index = copy.indexOf(Buffer.from(find, 'hex'))
    if (index < 0) throw new Error(`pattern ${find} not in the CA certificate`)
    copy[index + at] = value
    writeCertPem(path.join(pki, `${name}.crt`), copy)
  }
  // extnValue OCTET STRING (04 len) around: BasicConstraints 30 03 01 01 ff (CA:TRUE) -> SET;
  // KeyUsage 03 02 01 06 (keyCertSign, cRLSign) -> OCTET STRING; SKI 04 14 <20 bytes> -> BIT STRING.
  patch('ca-bad-basic-constraints', '040530030101ff', 2, 0x31)
  patch('ca-bad-key-usage', '040403020106', 2, 0x04)
  patch('ca-bad-ski', '04160414', 2, 0x03)
  // SubjectPublicKeyInfo: the EC point (BIT STRING 03 42 00 04 X Y) with a byte of X changed, so
  // the point is no longer on the curve.
  patch('ca-bad-public-key', '03420004', 8, 0x00)
}

// ---- PEM text cases (derived from the PKI above) -------------------------------------------

function makePemCases() {
  const pem = path.join(here, 'pem')
  rmSync(pem, { recursive: true, force: true })
  mkdirSync(pem, { recursive: true })
  const read = (name) => readFileSync(path.join(pki, name), 'utf8')
  const write = (name, text) => writeFileSync(path.join(pem, name), text)
  const wrap = (base64) => base64.match(/.{1,64}/g).join('\n')
  const ca = read('ca.crt')
  const lines = ca.trim().split('\n')
  const body = lines.slice(1, -1).join('')
  write('garbage.pem', 'this is not PEM at all, just a sentence in a file\n')
  write('empty.pem', '')
  // Cut mid-quad (length not a multiple of 4), and cut at a quad boundary (valid base64, short DER).
  const odd = body.slice(0, Math.floor(body.length / 2) + (Math.floor(body.length / 2) % 4 === 3 ? 2 : 1))
  write('cert-truncated-base64.pem', `-----BEGIN CERTIFICATE-----\n${wrap(odd)}\n-----END CERTIFICATE-----\n`)
  write('cert-truncated-der.pem', `-----BEGIN CERTIFICATE-----\n${wrap(body.slice(0, 256))}\n-----END CERTIFICATE-----\n`)
  write('cert-no-end.pem', `${lines.slice(0, -3).join('\n')}\n`)
  write('cert-label-mismatch.pem', `${lines.slice(0, -1).join('\n')}\n-----END PRIVATE KEY-----\n`)
  const junk = Buffer.from(Array.from({ length: 120 }, (_, i) => i + 7)).toString('base64')
  write('key-garbage.pem', `-----BEGIN PRIVATE KEY-----\n${wrap(junk)}\n-----END PRIVATE KEY-----\n`)
  write('cert-garbage-der.pem', `-----BEGIN CERTIFICATE-----\n${wrap(junk)}\n-----END CERTIFICATE-----\n`)
  write('chain-wrong-order.pem', ca + read('intermediate.crt'))
  write('two-keys.pem', read('ca.key') + read('other.key'))
}

// ---- images ---------------------------------------------------------------------------------

const KiB = 1024

function sparse(file, size) {
  rmSync(file, { force: true })
  writeFileSync(file, '')
  truncateSync(file, size)
}
function place(image, offset, fsFile) {
  run('dd', [`if=${fsFile}`, `of=${image}`, 'bs=64K', `seek=${offset}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none'])
}
function mkext4(file, size, label) {
  sparse(file, size)
  run('mkfs.ext4', ['-F', '-q', '-b', '1024', '-L', label, '-E', 'nodiscard', '-O', '^has_journal', file, `${size / KiB}k`], { env: { E2FSPROGS_FAKE_TIME: '1700000000' } })
}
function mkfat12(file, size, label) {
  rmSync(file, { force: true })
  run('mkfs.vfat', ['-C', '-F', '12', '-n', label, '-i', '12345678', file, String(size / KiB)])
}
function poke(file, offset, bytes) {
  const fd = openSync(file, 'r+')
  writeSync(fd, Buffer.from(bytes), 0, bytes.length, offset)
  closeSync(fd)
}
function peek(file, offset, length) {
  const fd = openSync(file, 'r')
  const buffer = Buffer.alloc(length)
  readSync(fd, buffer, 0, length, offset)
  closeSync(fd)
  return buffer
}
function sfdiskJson(image) {
  return JSON.parse(run('sfdisk', ['--json', image])).partitiontable
}

function makeImages() {
  rmSync(images, { recursive: true, force: true })
  mkdirSync(images, { recursive: true })
  const tmp = (name) => path.join(work, name)

  // good-gpt.img: 1 "boot" FAT12 (BOOT), 2 "rootfs" ext4 (rootfs). The control case: bakes fine.
  const gpt = path.join(images, 'good-gpt.img')
  sparse(gpt, 1024 * KiB)
  run('sfdisk', ['-q', gpt], { input: 'label: gpt\nfirst-lba: 34\nstart=40, size=256, type=U, name=boot\nstart=296, size=1536, type=L, name=rootfs\n' })
  mkfat12(tmp('boot.fs'), 128 * KiB, 'BOOT')
  mkext4(tmp('root.fs'), 768 * KiB, 'rootfs')
  const gptParts = sfdiskJson(gpt).partitions
  place(gpt, gptParts[0].start * 512, tmp('boot.fs'))
  place(gpt, gptParts[1].start * 512, tmp('root.fs'))

  // mbr.img: 1 FAT12 BOOT, 2 ext4 rootfs, 3 Linux type with a squashfs superblock (unsupported fs).
  const mbr = path.join(images, 'mbr.img')
  sparse(mbr, 1152 * KiB)
  run('sfdisk', ['-q', mbr], { input: 'label: dos\nstart=8, size=256, type=c\nstart=264, size=1536, type=83\nstart=1800, size=400, type=83\n' })
  place(mbr, 8 * 512, tmp('boot.fs'))
  place(mbr, 264 * 512, tmp('root.fs'))
  poke(mbr, 1800 * 512, [...Buffer.from('hsqs'), 1, 0, 0, 0]) // squashfs magic

  // mbr-fat-only.img: one FAT12 partition, no ext2/3/4 anywhere.
  const fatOnly = path.join(images, 'mbr-fat-only.img')
  sparse(fatOnly, 192 * KiB)
  run('sfdisk', ['-q', fatOnly], { input: 'label: dos\nstart=8, size=256, type=c\n' })
  place(fatOnly, 8 * 512, tmp('boot.fs'))

  // Not images at all.
  writeFileSync(path.join(images, 'not-an-image.img'), 'This is a text file, not a disk image.\n'.repeat(200))
  writeFileSync(path.join(images, 'zero-length.img'), '')
  writeFileSync(path.join(images, 'tiny.img'), Buffer.alloc(1000, 0x41))

  // gpt-truncated.img: the first 96 KiB of good-gpt.img (the table survives, the partitions do not).
  const truncated = path.join(images, 'gpt-truncated.img')
  writeFileSync(truncated, peek(gpt, 0, 96 * KiB))

  // gpt-truncated-tail.img: good-gpt.img cut to 800 KiB: no backup GPT, and the rootfs
  // partition (whose superblock is still there) runs past the end of the file.
  writeFileSync(path.join(images, 'gpt-truncated-tail.img'), peek(gpt, 0, 800 * KiB))

  // gpt-bad-crc-both.img: primary and backup header CRCs both wrong (a CRC-covered byte flipped).
  const badCrc = path.join(images, 'gpt-bad-crc-both.img')
  writeFileSync(badCrc, readFileSync(gpt))
  const lastLba = statSync(badCrc).size / 512 - 1
  for (const lba of [1, lastLba]) poke(badCrc, lba * 512 + 56, [peek(badCrc, lba * 512 + 56, 1)[0] ^ 0xff]) // disk GUID byte

  // gpt-bad-entries-crc-both.img: both partition entry arrays damaged (first entry's name).
  const badEntries = path.join(images, 'gpt-bad-entries-crc-both.img')
  writeFileSync(badEntries, readFileSync(gpt))
  const backupEntriesLba = Number(peek(badEntries, lastLba * 512 + 72, 8).readBigUInt64LE(0))
  for (const lba of [2, backupEntriesLba]) poke(badEntries, lba * 512 + 56, [peek(badEntries, lba * 512 + 56, 1)[0] ^ 0xff])

  // pmbr-no-gpt.img: a protective MBR (type 0xEE) and no GPT header anywhere.
  const pmbr = path.join(images, 'pmbr-no-gpt.img')
  const sector0 = Buffer.alloc(512)
  sector0[446 + 4] = 0xee
  sector0.writeUInt32LE(1, 446 + 8)
  sector0.writeUInt32LE(255, 446 + 12)
  sector0.writeUInt16LE(0xaa55, 510)
  sparse(pmbr, 128 * KiB)
  poke(pmbr, 0, sector0)

  // pmbr-3k.img: the same protective MBR in a 3 KiB file (smaller than one 4096-byte sector).
  const pmbrSmall = Buffer.alloc(3 * KiB)
  sector0.copy(pmbrSmall, 0)
  writeFileSync(path.join(images, 'pmbr-3k.img'), pmbrSmall)

  // gpt-entries-lba-huge.img: good-gpt.img whose headers (CRCs fixed) place the entry array at
  // LBA 2^60, far beyond any file (2^60 x 512 is not a safe integer).
  const hugeLba = path.join(images, 'gpt-entries-lba-huge.img')
  writeFileSync(hugeLba, readFileSync(gpt))
  for (const lba of [1, lastLba]) {
    const header = peek(hugeLba, lba * 512, 92)
    header.writeBigUInt64LE(2n ** 60n, 72)
    header.writeUInt32LE(0, 16)
    header.writeUInt32LE(crc32(header), 16)
    poke(hugeLba, lba * 512, header)
  }

  // Compressed images that are not what their names say.
  writeFileSync(path.join(images, 'corrupt.img.gz'), Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0, 0x03]), Buffer.alloc(2000, 0x5a)]))
  const xzBytes = execFileSync('xz', ['-c', '-0', gpt])
  writeFileSync(path.join(images, 'truncated.img.xz'), xzBytes.subarray(0, Math.floor(xzBytes.length / 2)))
}

function crc32(data) {
  let crc = 0xffffffff
  for (const byte of data) {
    crc ^= byte
    for (let k = 0; k < 8; k++) crc = crc & 1 ? 0xedb88320 ^ (crc >>> 1) : crc >>> 1
  }
  return (crc ^ 0xffffffff) >>> 0
}

try {
  const only = process.argv[2]
  if (!only || only === 'pki') makePki()
  if (!only || only === 'pki' || only === 'pem') makePemCases()
  if (!only || only === 'images') makeImages()
} finally {
  rmSync(work, { recursive: true, force: true })
}
