import { timingSafeEqual } from 'node:crypto';
import type { Knex } from 'knex';
import type { ApiKeyPrincipal, CredentialResolver } from '../../http/authenticate.js';
import { effectiveAccess, intersectPermissions } from '../../identity/access.js';
import { orgRolePolicy } from '../../identity/org-roles.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import { apiKeysRepo, type KeyCandidate } from './api-keys.repo.js';
import { apiKeyFormat, hashApiKey, hasValidChecksum } from './key-format.js';
import type { ApiKeyUsage } from './key-usage.js';

const invalidKey = () => new AppError('invalid_api_key', { detail: 'The API key is not valid (unknown, revoked or expired).' });

function sameHash(a: string, b: string | null): boolean {
  return b !== null && a.length === b.length && timingSafeEqual(Buffer.from(a, 'hex'), Buffer.from(b, 'hex'));
}

/** Whether a found key may act now: its owner not suspended, an organization key's owner still an owner or admin there. */
function mayAct(key: KeyCandidate): boolean {
  if (key.owner_status === 'suspended') return false;
  if (key.organization_id === null) return true;
  return key.org_role !== null && orgRolePolicy.allows(key.org_role, 'org:write:api_keys');
}

/**
 * The credential of the `apiKeyAuth` scheme (`X-API-Key`): a key whose checksum is wrong is
 * refused without a database read; a well-formed one is looked up by its SHA-256 (never by the
 * secret), compared in constant time, and must be live (README "API keys"). Its permissions
 * are its own that its owner holds now. The use is recorded for `last_used_at`, in batches.
 */
export function apiKeyResolver(deps: { db: Knex; clock: Clock; usage: ApiKeyUsage }): CredentialResolver {
  return {
    name: 'api_key',
    format: apiKeyFormat,
    async resolve(credential) {
      if (!hasValidChecksum(credential)) throw invalidKey();
      const now = deps.clock.now();
      const hash = hashApiKey(credential);
      const key = await apiKeysRepo.findByHash(deps.db, hash, now);
      if (!key || !(sameHash(hash, key.secret_hash) || sameHash(hash, key.previous_secret_hash)) || !mayAct(key)) throw invalidKey();
      const owner = await effectiveAccess(deps.db, key.user_id, now);
      deps.usage.seen(key.id, now);
      const principal: ApiKeyPrincipal = {
        keyId: key.id,
        userId: key.user_id,
        status: key.owner_status,
        isGuest: key.owner_is_guest,
        organization: key.organization_id && key.org_role ? { id: key.organization_id, role: key.org_role } : null,
        permissions: intersectPermissions(key.permissions, owner.permissions),
        expiresAt: key.expires_at,
      };
      return { kind: 'api_key', key: principal };
    },
  };
}
