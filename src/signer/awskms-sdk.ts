// The part of the AWS SDK credbake uses, as a bundle of its own: rollup builds this file into
// dist/aws-kms.js, and dist/index.js and dist/cli.js load that file with `import()` only when an
// `awskms://` key is opened (src/signer/awskms.ts). So a run with any other key, every worker
// thread and the PKCS#11 signer process (all of which re-run the main bundle) never parse or
// evaluate the SDK (about 0.7 MB of JavaScript).
//
// Only the SDK's client and commands are exported: nothing of credbake's (src/errors.ts and its
// classes used with instanceof) may be in this bundle, so SDK errors are told apart by
// `error.name` in awskms.ts, never with instanceof against SDK classes.
export { GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms'

/** Set while this module is evaluated: lets a test see that a run loaded the SDK bundle. */
;(globalThis as Record<symbol, unknown>)[Symbol.for('credbake.awskms-sdk')] = true
