export { authErrors, problemOf, refusalHeaders, SesameAuthError, type AuthErrorCode } from './errors.js';
export { requirePermission, sendRefusal, sesameAuth, type Middleware } from './express.js';
export type { Clock } from './jwks.js';
export { maxLiveCacheSeconds } from './live-check.js';
export { hasPermission, permissionMatches } from './permissions.js';
export { createSesameVerifier, type SesameAuth, type SesameVerifier, type SesameVerifierOptions } from './verifier.js';
