import type { Knex } from 'knex';
import type { Clock } from '../../infra/clock.js';
import { passwordPolicyViolations, type PasswordHasher } from '../../infra/passwords.js';
import { AppError } from '../../shared/errors.js';
import { recordAudit } from '../audit/audit.js';
import { syncQuotas } from '../quotas/quota-sync.js';
import { grantRoleByName } from '../rbac/access.js';
import { normalizeEmail, usersRepo, type UserRow } from './users.repo.js';

export interface CreateAdminInput {
  email: string;
  password: string;
  firstName?: string;
  lastName?: string;
  /** The actor type the account holds; `admin` (which requires 2FA) by default. */
  actorType?: string;
}

const adminRole = 'admin';
const emailPattern = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * The first administrator (SPEC §4.9): an active, verified account holding the actor type and
 * the role `admin`. An existing live account with that email gets both added and keeps its
 * password. Returns the user id. No side effect on import: the CLI and the Newman runner call it.
 */
export async function createAdmin(db: Knex, clock: Clock, hasher: PasswordHasher, input: CreateAdminInput): Promise<string> {
  const email = normalizeEmail(input.email);
  if (email.length > 254 || !emailPattern.test(email)) {
    throw new AppError('validation_failed', { detail: 'The email address is not valid.', errors: [{ path: 'email', message: 'must be an email address' }] });
  }
  const weak = passwordPolicyViolations(input.password, [email.split('@')[0] ?? '', input.firstName ?? '', input.lastName ?? '']);
  if (weak.length) throw new AppError('password_too_weak', { detail: 'The password does not meet the password policy.', errors: weak.map((e) => ({ ...e, path: 'password' })) });
  const actorTypeName = input.actorType ?? 'admin';
  const actorType = await usersRepo.findActorType(db, actorTypeName);
  if (!actorType) throw new AppError('actor_type_not_allowed', { detail: `There is no actor type '${actorTypeName}'.` });
  const passwordHash = await hasher.hash(input.password);
  const now = clock.now();

  return db.transaction(async (trx) => {
    let user = await trx<UserRow>('users').where({ email }).whereNull('deleted_at').forUpdate().first();
    if (!user) {
      user = await usersRepo.insert(trx, {
        email,
        password_hash: passwordHash,
        first_name: input.firstName ?? null,
        last_name: input.lastName ?? null,
        status: 'active',
        email_verified_at: now,
        created_at: now,
        updated_at: now,
      });
      await recordAudit(trx, clock, { event: 'user.registered', userId: user.id, identifier: email, details: { user_type: actorType.name, via: 'create_admin' } });
    }
    await usersRepo.grantActorType(trx, user.id, actorType.name);
    await grantRoleByName(trx, user.id, adminRole, { now });
    await syncQuotas(trx, user.id, now);
    await recordAudit(trx, clock, { event: 'role.granted', userId: user.id, identifier: email, details: { role: adminRole, actor_type: actorType.name, via: 'create_admin' } });
    return user.id;
  });
}
