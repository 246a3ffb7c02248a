import type { Knex } from 'knex';
import { passwordPolicyViolations } from '../infra/passwords.js';
import { AppError } from '../shared/errors.js';
import { actorPolicy } from './actor-policy.js';
import { actorTypesRepo, type ActorTypeRow } from './actor-types.repo.js';

export interface SignupInput {
  email: string;
  password: string;
  password_confirm: string;
  first_name?: string;
  last_name?: string;
  accept_terms: boolean;
  user_type?: string;
}

/**
 * The rules an account must meet to be created by its owner with a password (registration, guest
 * conversion): terms accepted, confirmation equal, password policy, and an actor type that allows
 * self-signup with a password. Returns that actor type.
 */
export async function checkSignup(db: Knex, input: SignupInput, defaultActorType: string): Promise<ActorTypeRow> {
  if (input.accept_terms !== true) throw new AppError('terms_not_accepted', { detail: 'The terms and conditions must be accepted.', errors: [{ path: '/body/accept_terms', message: 'must be true' }] });
  if (input.password !== input.password_confirm) throw new AppError('password_mismatch', { detail: 'The passwords do not match.', errors: [{ path: '/body/password_confirm', message: 'must equal password' }] });
  const weak = passwordPolicyViolations(input.password, [input.email.split('@')[0] ?? '', input.first_name ?? '', input.last_name ?? '']);
  if (weak.length) throw new AppError('password_too_weak', { detail: 'The password does not meet the password policy.', errors: weak });
  const userType = input.user_type ?? defaultActorType;
  const actorType = await actorTypesRepo.find(db, userType);
  if (!actorType || !actorPolicy.allowsSelfSignup(actorType, 'password')) {
    throw new AppError('actor_type_not_allowed', { detail: `Accounts of type '${userType}' cannot be created by registration.`, errors: [{ path: '/body/user_type', message: 'not a self-signup actor type' }] });
  }
  return actorType;
}
