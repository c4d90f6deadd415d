// The fleet CA's signing key seen from issuance: a public key, an algorithm and `sign`. Issuance
// never holds the CA private key; it asks a signer. The in-memory PEM key is one implementation;
// PKCS#11 tokens, AWS KMS and external signer programs are others (one file each in this folder,
// one entry each in the registry).
import type { KeyObject } from 'node:crypto'
import type { HashName } from '../x509/algorithms.js'

export interface CaSigner {
  /** Who signs, for messages and logs, e.g. "PKCS#11 token fleet, object ca". Never a secret. */
  readonly description: string
  /** The signer's public key: must be the fleet CA certificate's (checked before issuing). */
  readonly publicKey: KeyObject
  /** Digest the TBSCertificate is signed over; null for Ed25519 (signs the message itself). */
  readonly hash: HashName | null
  /**
   * Sign one TBSCertificate (the DER bytes). Resolves with the signature as it goes into the
   * certificate's BIT STRING: a DER Ecdsa-Sig-Value for ECDSA, the PKCS#1 v1.5 block for RSA,
   * 64 bytes for Ed25519. Many calls may be in flight at once.
   */
  sign(tbs: Buffer): Promise<Buffer>
  /** How many `sign` calls are worth having in flight at once. */
  readonly concurrency: number
  /**
   * Only for in-memory keys: the key itself, so worker threads can sign where they build the
   * certificate (the fastest path). Absent for tokens, KMS and external programs.
   */
  readonly inProcessKey?: KeyObject
  /** Release sessions, connections and child processes. Safe to call twice. */
  close(): Promise<void>
}

export interface SignerOpenContext {
  /** fleet-ca-key-passphrase: passphrase of a PEM key, or the PKCS#11 user PIN. */
  passphrase?: string
  /** pkcs11-module input, when the pkcs11: URI has no module-path. */
  pkcs11Module?: string
  /** Folder for files the signer may need (0700, removed at the end of the run). */
  tempDir?: string
  /** Where a PEM key came from ("input fleet-ca-key" or its path), for messages. */
  origin?: string
  /**
   * The fleet CA certificate's public key: a fallback for signers that cannot show theirs (a
   * PKCS#11 token without a public key object). The test signature still checks the pairing.
   */
  certificatePublicKey?: KeyObject
  /** Warnings for the run's log (e.g. a signer program's stderr, a PIN in a URI). Never a secret. */
  warn?: (message: string) => void
}

/** One kind of signer: recognises its key references and opens them. */
export interface SignerFactory {
  /** e.g. "pkcs11", "awskms", "exec", "pem". */
  readonly name: string
  /** True when `reference` (the fleet-ca-key value) is for this factory. */
  accepts(reference: string): boolean
  open(reference: string, context: SignerOpenContext): Promise<CaSigner>
}
