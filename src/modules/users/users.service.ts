import type { Knex } from 'knex';
import type { UserDetail, UserUpdateRequest } from '../../../sdk/src/types.gen.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { requireSelfOr } from '../../identity/authorize.js';
import { organizationsRepo } from '../../identity/organizations.repo.js';
import { assertMetadataFits } from '../../identity/metadata.js';
import { applyProfileChanges, profileChanges } from '../../identity/profile.js';
import type { Sessions } from '../../identity/sessions/sessions.js';
import { identifierOf, usersRepo, type UserRecord } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import type { VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import { userDetail } from './user-detail.js';

/** The largest metadata document, as UTF-8 JSON (the spec's UserUpdateRequest.metadata). */
export { maxMetadataBytes } from '../../identity/metadata.js';

type Caller = Pick<VerifiedAccessToken, 'sub' | 'sid'>;

/** Who acted, for the audit row: the user in their own session, or another caller (whose session id the user's security events must not show). */
function acting(caller: Caller, userId: string): { actorId: string | null; sessionId: string | null } {
  return caller.sub === userId ? { actorId: null, sessionId: caller.sid } : { actorId: caller.sub, sessionId: null };
}

const userNotFound = () => new AppError('user_not_found', { detail: 'No such user.' });

/** Reading, editing and deleting a user: the user themself, or a caller holding the permission. */
export class UsersService {
  private readonly db: Knex;
  private readonly clock: Clock;
  private readonly sessions: Sessions;

  constructor(deps: { db: Knex; clock: Clock; sessions: Sessions }) {
    ({ db: this.db, clock: this.clock, sessions: this.sessions } = deps);
  }

  async get(caller: Caller, userId: string): Promise<UserDetail> {
    await requireSelfOr(this.db, this.clock, caller.sub, userId, 'sesame:read:users');
    const user = await usersRepo.findLiveRecord(this.db, userId);
    if (!user) throw userNotFound();
    return userDetail(this.db, user, this.clock.now());
  }

  /** The profile rules of PATCH /auth/profile plus `metadata`, replaced as a whole. */
  async update(caller: Caller, userId: string, patch: UserUpdateRequest, context: RequestContext): Promise<UserDetail> {
    await requireSelfOr(this.db, this.clock, caller.sub, userId, 'sesame:write:users');
    const { metadata, ...profile } = patch;
    const changes = profileChanges(profile);
    if (metadata !== undefined) {
      assertMetadataFits(metadata);
      changes.push({ field: 'metadata', column: 'metadata', value: metadata });
    }
    const now = this.clock.now();
    const user = await this.db.transaction(async (trx) => {
      const current = await usersRepo.findLiveRecord(trx, userId, { lock: true });
      if (!current) throw userNotFound();
      const { user: updated, fields } = await applyProfileChanges<UserRecord>(trx, current, changes, now);
      if (fields.length) {
        await recordAudit(trx, this.clock, {
          event: 'user.updated',
          userId,
          ...acting(caller, userId),
          identifier: identifierOf(current),
          context,
          details: { fields },
        });
      }
      return updated;
    });
    return userDetail(this.db, user, now);
  }

  /**
   * Soft delete: the row stays (for the audit log), every session ends, the user leaves every
   * organization (409 `last_owner` when they are one's only owner), the email is free again.
   */
  async delete(caller: Caller, userId: string, context: RequestContext): Promise<void> {
    await requireSelfOr(this.db, this.clock, caller.sub, userId, 'sesame:delete:users');
    const now = this.clock.now();
    await this.sessions.transaction(async (trx) => {
      const current = await usersRepo.findLiveRecord(trx, userId, { lock: true });
      if (!current) throw userNotFound();
      await usersRepo.updateRecord(trx, userId, { deleted_at: now, updated_at: now });
      const organizations = await organizationsRepo.removeAllOf(trx, userId);
      const ids = await this.sessions.revoke({ userId }, 'user_deleted', trx);
      await recordAudit(trx, this.clock, {
        event: 'user.deleted',
        userId,
        ...acting(caller, userId),
        identifier: identifierOf(current),
        context,
        details: { revoked_sessions: ids.length, organizations_left: organizations },
      });
    });
  }
}
