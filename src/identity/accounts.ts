import type { Knex } from 'knex';
import type { Clock } from '../infra/clock.js';
import type { RequestContext } from '../shared/request-context.js';
import { actorTypesRepo } from './actor-types.repo.js';
import { recordAudit, type AuditEvent } from './audit-trail.js';
import { roleGrantsRepo } from './role-grants.repo.js';
import { syncQuotas } from './user-quotas.repo.js';
import { usersRepo, type UserRecord, type UserRow } from './users.repo.js';

/** The columns of a new `users` row (the database fills id, metadata and defaults). */
export type NewUserColumns = Partial<UserRow> & { terms_accepted_at?: Date };

/** The role every account made by its owner starts with (a guest starts as `guest`). */
export const defaultRole = 'free';

export interface AccountProvision {
  /** A new user, or an existing one taking a new shape (a guest becoming a permanent account). */
  user: { create: NewUserColumns } | { update: { id: string; changes: Partial<UserRecord> & { terms_accepted_at?: Date } } };
  /** The actor type and the role the account holds from now on. */
  actorType: string;
  role: string;
  /** What the account stops being (conversion): its former actor type and role. */
  replacing?: { actorType: string; role: string };
  /** The audit rows of the change (the user id is filled in), written in the same transaction. */
  audit: Array<Omit<AuditEvent, 'userId' | 'context'>>;
  context?: RequestContext;
}

/**
 * Every way an account comes to exist (registration, guests, conversion, the first admin, and
 * later external sign-ins, phone sign-up, invitations) goes through here, inside the caller's
 * transaction: the user row, its actor type, its role, its quotas (which follow roles) and the
 * audit rows. Checks (policy, uniqueness, passwords) are the caller's, before.
 */
export async function provisionAccount(trx: Knex.Transaction, clock: Clock, provision: AccountProvision): Promise<UserRecord> {
  const now = clock.now();
  const user =
    'create' in provision.user
      ? await usersRepo.insert(trx, { created_at: now, updated_at: now, ...provision.user.create })
      : await usersRepo.updateRecord(trx, provision.user.update.id, { ...provision.user.update.changes, updated_at: now });
  if (provision.replacing) {
    await actorTypesRepo.remove(trx, user.id, provision.replacing.actorType);
    await roleGrantsRepo.revokeByName(trx, user.id, provision.replacing.role);
  }
  await actorTypesRepo.grant(trx, user.id, provision.actorType);
  await roleGrantsRepo.grantByName(trx, user.id, provision.role, { now });
  // Existing quota rows keep their usage and take the new role's limits.
  await syncQuotas(trx, user.id, now);
  for (const event of provision.audit) await recordAudit(trx, clock, { ...event, userId: user.id, context: provision.context });
  return user;
}
