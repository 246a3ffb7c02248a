import type { Knex } from 'knex';
import type { ApiKey, ApiKeyCreateRequest, ApiKeyList, ApiKeyWithSecret } from '../../../sdk/src/types.gen.js';
import { holdsPermission } from '../../identity/access.js';
import { recordAudit, type AuditEventName } from '../../identity/audit-trail.js';
import { callerAccess } from '../../identity/authorize.js';
import { orgRolePolicy } from '../../identity/org-roles.js';
import { organizationsRepo } from '../../identity/organizations.repo.js';
import { usersRepo } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { RequestContext } from '../../shared/request-context.js';
import { apiKeysRepo, type ApiKeyRow } from './api-keys.repo.js';
import { newApiKeySecret } from './key-format.js';

/** Who acts: the access token's user and session (keys are managed with a session, never with a key). */
export interface KeyCaller {
  sub: string;
  sid: string;
}

/** How long a rotated key's previous secret works when the request names no grace. */
export const defaultRotationGraceSeconds = 86_400;

const keyNotFound = () => new AppError('api_key_not_found', { detail: 'No such API key of yours.' });

export function toApiKey(row: ApiKeyRow): ApiKey {
  const previousLive = row.previous_secret_hash !== null && row.previous_expires_at !== null;
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    last_four: row.last_four,
    permissions: row.permissions,
    organization_id: row.organization_id,
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at?.toISOString() ?? null,
    expires_at: row.expires_at?.toISOString() ?? null,
    rotated_at: row.rotated_at?.toISOString() ?? null,
    previous_secret_expires_at: previousLive ? row.previous_expires_at!.toISOString() : null,
  };
}

/**
 * API keys for services (README "API keys", spec tag `api-keys`): the secret is shown once and
 * stored as its SHA-256; a key never holds more than its creator (no escalation), and an
 * organization key needs an owner or admin of the organization.
 */
export class ApiKeysService {
  private readonly db: Knex;
  private readonly clock: Clock;
  private readonly prefix: string;

  constructor(deps: { db: Knex; clock: Clock; settings: { prefix: string } }) {
    ({ db: this.db, clock: this.clock } = deps);
    this.prefix = deps.settings.prefix;
  }

  async create(caller: KeyCaller, body: ApiKeyCreateRequest, context: RequestContext): Promise<ApiKeyWithSecret> {
    const now = this.clock.now();
    const expiresAt = body.expires_at === undefined ? null : new Date(body.expires_at);
    if (expiresAt && expiresAt <= now) {
      throw new AppError('validation_failed', { detail: 'The key would be expired already.', errors: [{ path: '/body/expires_at', message: 'must be in the future' }] });
    }
    const held = (await callerAccess(this.db, this.clock, caller.sub)).permissions;
    const beyond = body.permissions.filter((p) => !holdsPermission(held, p));
    if (beyond.length) throw new AppError('privilege_escalation', { detail: `A key cannot hold what you do not: ${beyond.join(', ')}.` });
    let membershipId: string | null = null;
    if (body.organization_id !== undefined) {
      const found = await organizationsRepo.findForMember(this.db, body.organization_id, caller.sub);
      if (!found) throw new AppError('organization_not_found', { detail: 'No such organization among yours.' });
      if (!orgRolePolicy.allows(found.membership.role, 'org:write:api_keys')) {
        throw new AppError('permission_denied', { detail: 'Organization keys are made by its owners and admins.' });
      }
      membershipId = found.membership.id;
    }
    const secret = newApiKeySecret(this.prefix);
    return this.db.transaction(async (trx) => {
      const row = await apiKeysRepo.insert(trx, {
        user_id: caller.sub,
        organization_id: body.organization_id ?? null,
        org_membership_id: membershipId,
        name: body.name,
        prefix: this.prefix,
        last_four: secret.lastFour,
        secret_hash: secret.hash,
        permissions: body.permissions,
        expires_at: expiresAt,
        created_at: now,
      });
      await this.audit(trx, caller, 'api_key.created', context, { key_id: row.id, name: row.name, organization_id: row.organization_id, permissions: row.permissions });
      return { ...toApiKey(row), secret: secret.secret };
    });
  }

  async list(userId: string, page: PageRequest): Promise<ApiKeyList> {
    const { items, next_cursor } = await apiKeysRepo.listUsable(this.db, userId, page);
    return { items: items.map(toApiKey), next_cursor };
  }

  /** Both secrets (the previous one of a rotation too) stop at once: every instance reads the key at each use. */
  async revoke(caller: KeyCaller, keyId: string, context: RequestContext): Promise<void> {
    await this.db.transaction(async (trx) => {
      const row = await apiKeysRepo.lockUsable(trx, caller.sub, keyId);
      if (!row) throw keyNotFound();
      await apiKeysRepo.revoke(trx, row.id, this.clock.now());
      await this.audit(trx, caller, 'api_key.revoked', context, { key_id: row.id, name: row.name });
    });
  }

  /** A new secret; the current one keeps working for `graceSeconds` (0: not at all), and an older one ends now. */
  async rotate(caller: KeyCaller, keyId: string, graceSeconds: number, context: RequestContext): Promise<ApiKeyWithSecret> {
    const now = this.clock.now();
    const secret = newApiKeySecret(this.prefix);
    return this.db.transaction(async (trx) => {
      const row = await apiKeysRepo.lockUsable(trx, caller.sub, keyId);
      if (!row) throw keyNotFound();
      const rotated = await apiKeysRepo.rotate(trx, row.id, {
        prefix: this.prefix,
        last_four: secret.lastFour,
        secret_hash: secret.hash,
        previous_secret_hash: graceSeconds > 0 ? row.secret_hash : null,
        previous_expires_at: graceSeconds > 0 ? new Date(now.getTime() + graceSeconds * 1000) : null,
        rotated_at: now,
      });
      await this.audit(trx, caller, 'api_key.rotated', context, { key_id: row.id, name: row.name, grace_seconds: graceSeconds });
      return { ...toApiKey(rotated), secret: secret.secret };
    });
  }

  private async audit(trx: Knex.Transaction, caller: KeyCaller, event: AuditEventName, context: RequestContext, details: Record<string, unknown>): Promise<void> {
    await recordAudit(trx, this.clock, { event, userId: caller.sub, sessionId: caller.sid, identifier: await usersRepo.identifierOf(trx, caller.sub), context, details });
  }
}
