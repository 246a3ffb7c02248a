import type { Knex } from 'knex';
import { defaultRole, provisionAccount } from '../../identity/accounts.js';
import { actorPolicy } from '../../identity/actor-policy.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { recordAudit } from '../../identity/audit-trail.js';
import type { AuthMethod } from '../../identity/auth-method.js';
import { usersRepo } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import type { RequestContext } from '../../shared/request-context.js';
import { identitiesRepo, type ExternalIdentity } from './identities.repo.js';
import type { ExternalProfile } from './providers.js';
import { isUniqueViolation } from '../../infra/pg-errors.js';

export interface ResolutionInput {
  method: AuthMethod;
  identity: ExternalIdentity;
  profile: ExternalProfile;
  /** The actor type the start asked for, if any. */
  actorType?: string;
  /** The type of an account a first sign-in creates when the start named none. */
  defaultActorType: string;
  context: RequestContext;
}

/** The account an external sign-in proves, or why there is none (the callback's `?error=`). */
export type Resolution = { userId: string } | { refused: 'account_exists' | 'actor_type_not_allowed' | 'auth_method_not_allowed'; userId?: string };

/**
 * Finds the account of an external identity, by (provider, issuer, subject) only:
 * 1. a linked identity signs in its own account, whatever email the provider gives now (a
 *    provider changing the email of a known subject never moves the identity);
 * 2. else an account with the same email is linked only when the provider asserts the email
 *    verified and the account's own email is verified too; anything else is `account_exists`
 *    (the owner signs in and links explicitly), so an unverified or merely claimed email never
 *    takes an account over;
 * 3. else a first sign-in creates the account (a self-signup actor type allowing the method),
 *    with the email only when the provider asserts it verified.
 * In one transaction; a parallel first sign-in of the same identity or email is retried once.
 */
export async function resolveAccount(db: Knex, clock: Clock, input: ResolutionInput): Promise<Resolution> {
  try {
    return await db.transaction((trx) => resolveIn(trx, clock, input));
  } catch (err) {
    if (!isUniqueViolation(err)) throw err;
    return db.transaction((trx) => resolveIn(trx, clock, input));
  }
}

async function resolveIn(trx: Knex.Transaction, clock: Clock, input: ResolutionInput): Promise<Resolution> {
  const { method, identity, context } = input;
  const now = clock.now();
  if (input.actorType !== undefined) {
    // Checked at the start too: an administrator may have changed the policy since.
    const requested = await actorTypesRepo.find(trx, input.actorType);
    if (!requested || !actorPolicy.allowsMethod(requested, method)) return { refused: 'auth_method_not_allowed' };
  }
  const mayActAs = async (userId: string) => actorPolicy.actingType(await actorTypesRepo.heldBy(trx, userId), method, input.actorType) !== undefined;

  const known = await identitiesRepo.findByKey(trx, identity);
  if (known) {
    const owner = await usersRepo.findLiveById(trx, known.user_id);
    if (owner) {
      if (!(await mayActAs(owner.id))) return { refused: 'auth_method_not_allowed', userId: owner.id };
      await identitiesRepo.touch(trx, known.id, identity, now);
      return { userId: owner.id };
    }
    // The account was deleted: its identity does not bring it back, and starts over.
    await identitiesRepo.delete(trx, known.id);
  }

  if (identity.email) {
    const local = await usersRepo.lockLiveByEmail(trx, identity.email);
    if (local) {
      if (!identity.emailVerified || !local.email_verified_at) return { refused: 'account_exists', userId: local.id };
      if (!(await mayActAs(local.id))) return { refused: 'auth_method_not_allowed', userId: local.id };
      await link(trx, clock, local.id, identity, { automatic: true, context });
      return { userId: local.id };
    }
  }

  const actorType = await actorTypesRepo.find(trx, input.actorType ?? input.defaultActorType);
  if (!actorType || !actorPolicy.allowsMethod(actorType, method)) return { refused: 'auth_method_not_allowed' };
  if (!actorPolicy.allowsSelfSignup(actorType, method)) return { refused: 'actor_type_not_allowed' };
  const email = identity.emailVerified ? identity.email : null;
  const { profile } = input;
  const user = await provisionAccount(trx, clock, {
    user: {
      create: {
        email,
        email_verified_at: email ? now : null,
        status: 'active',
        first_name: profile.givenName ?? null,
        last_name: profile.familyName ?? null,
        display_name: profile.displayName ?? null,
        language: 'en',
      },
    },
    actorType: actorType.name,
    role: defaultRole,
    audit: [{ event: 'user.registered', identifier: email, details: { user_type: actorType.name, auth_method: method } }],
    context,
  });
  await link(trx, clock, user.id, identity, { automatic: false, context });
  return { userId: user.id };
}

/** Links an identity and writes its audit row; a concurrent link of the same identity raises a unique violation (retried by the caller). */
export async function link(trx: Knex.Transaction, clock: Clock, userId: string, identity: ExternalIdentity, options: { automatic: boolean; context: RequestContext }) {
  const row = await identitiesRepo.insert(trx, userId, identity, clock.now());
  if (!row) throw Object.assign(new Error('identity linked concurrently'), { code: '23505' });
  await recordAudit(trx, clock, { event: 'identity.linked', userId, identifier: identity.email, context: options.context, details: { provider: identity.provider, automatic: options.automatic } });
  return row;
}
