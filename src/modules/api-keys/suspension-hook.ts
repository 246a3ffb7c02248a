import type { SuspensionHook } from '../../identity/suspension.js';
import type { Clock } from '../../infra/clock.js';
import { apiKeysRepo } from './api-keys.repo.js';

/**
 * A suspension revokes every API key of the user, in its transaction (README "Administration"):
 * each use reads the key in PostgreSQL, so every instance refuses them from the commit on, and
 * a reactivation does not bring them back (the owner makes new ones).
 */
export function apiKeysEndOnSuspension(clock: Clock): SuspensionHook {
  return {
    name: 'api_keys',
    suspended: (trx, userId) => apiKeysRepo.revokeAllOf(trx, userId, clock.now()),
  };
}
