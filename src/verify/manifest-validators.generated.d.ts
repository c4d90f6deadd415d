// Types of the validators scripts/build-validators.mjs generates (ajv standalone code).
type Validator = ((value: unknown, context?: { instancePath?: string }) => boolean) & { errors?: unknown[] | null }
export declare const validateManifest: Validator
export declare const validateDevice: Validator
export declare const validateSuperseded: Validator
