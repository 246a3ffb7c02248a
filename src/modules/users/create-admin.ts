import type { Knex } from 'knex';
import { provisionAccount } from '../../identity/accounts.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { normalizeEmail, usersRepo } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { passwordPolicyViolations, type PasswordHasher } from '../../infra/passwords.js';
import { AppError } from '../../shared/errors.js';

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
 * The first administrator (README "The first admin"): an active, verified account holding the
 * actor type and the role `admin`. An existing live account with that email gets both added and
 * keeps its password. Returns the user id. No side effect on import: the CLI and the Newman runner
 * call it.
 */
export async function createAdmin(db: Knex, clock: Clock, hasher: PasswordHasher, input: CreateAdminInput): Promise<string> {
  const email = normalizeEmail(input.email);
  if (email.length > 254 || !emailPattern.test(email)) {
    throw new AppError('validation_failed', { detail: 'The email address is not valid.', errors: [{ path: 'email', message: 'must be an email address' }] });
  }
  const weak = passwordPolicyViolations(input.password, [email.split('@')[0] ?? '', input.firstName ?? '', input.lastName ?? '']);
  if (weak.length) throw new AppError('password_too_weak', { detail: 'The password does not meet the password policy.', errors: weak.map((e) => ({ ...e, path: 'password' })) });
  const actorTypeName = input.actorType ?? 'admin';
  const actorType = await actorTypesRepo.find(db, actorTypeName);
  if (!actorType) throw new AppError('actor_type_not_allowed', { detail: `There is no actor type '${actorTypeName}'.` });
  const passwordHash = await hasher.hash(input.password);
  const now = clock.now();
  const granted = { event: 'role.granted' as const, identifier: email, details: { role: adminRole, actor_type: actorType.name, via: 'create_admin' } };

  return db.transaction(async (trx) => {
    const existing = await usersRepo.lockLiveByEmail(trx, email);
    const user = await provisionAccount(trx, clock, {
      user: existing
        ? { update: { id: existing.id, changes: {} } }
        : {
            create: {
              email,
              password_hash: passwordHash,
              first_name: input.firstName ?? null,
              last_name: input.lastName ?? null,
              status: 'active',
              email_verified_at: now,
            },
          },
      actorType: actorType.name,
      role: adminRole,
      audit: existing ? [granted] : [{ event: 'user.registered', identifier: email, details: { user_type: actorType.name, via: 'create_admin' } }, granted],
    });
    return user.id;
  });
}
