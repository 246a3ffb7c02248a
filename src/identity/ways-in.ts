import type { ActorTypeRow } from './actor-types.repo.js';
import { actorPolicy } from './actor-policy.js';
import type { AuthMethod } from './auth-method.js';
import type { UserRow } from './users.repo.js';

/**
 * What an account holds that can sign it in on its own (README "Sign in with Google, GitHub or
 * OpenID Connect", unlinking): a password, a verified phone number (SMS codes), its external
 * identities. A QR sign-in needs another signed-in device, and a guest or an impersonation is no
 * proof of the account's owner: none of them is a way in.
 */
export interface AccountCredentials {
  user: Pick<UserRow, 'password_hash' | 'phone' | 'phone_verified_at'>;
  /** The method of each external identity the account keeps, one per identity (`google`, `github`, `oidc:<id>`). */
  externalMethods: AuthMethod[];
}

/** The account's ways in, one per credential: each counts while an actor type the account holds allows its method. */
export function waysIn({ user, externalMethods }: AccountCredentials, held: ActorTypeRow[]): AuthMethod[] {
  const methods: AuthMethod[] = [...externalMethods];
  if (user.password_hash) methods.push('password');
  if (user.phone && user.phone_verified_at) methods.push('sms');
  return methods.filter((method) => actorPolicy.anyAllows(held, method));
}

/**
 * Whether taking away one credential of method `removed` leaves the account no way in, when
 * that credential was one (`remaining`: what the account keeps). Taking away a credential no
 * held actor type allows removes no way in.
 */
export function removingLastWayIn(remaining: AccountCredentials, held: ActorTypeRow[], removed: AuthMethod): boolean {
  return actorPolicy.anyAllows(held, removed) && waysIn(remaining, held).length === 0;
}
