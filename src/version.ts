// Kept in step with package.json by test/settings/action-yml.test.ts.
export const VERSION = '0.1.0'
