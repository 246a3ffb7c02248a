import type { Knex } from 'knex';
import type { Identity, IdentityList } from '../../../sdk/src/types.gen.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { recordAudit } from '../../identity/audit-trail.js';
import type { AuthMethod } from '../../identity/auth-method.js';
import { usersRepo } from '../../identity/users.repo.js';
import { removingLastWayIn } from '../../identity/ways-in.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import { link } from './account-resolution.js';
import type { ExternalSignIn } from './external-sign-in.js';
import { identitiesRepo, type IdentityRow } from './identities.repo.js';
import { isUniqueViolation } from '../../infra/pg-errors.js';

function providerTypeOf(row: Pick<IdentityRow, 'provider'>): Identity['provider_type'] {
  return row.provider === 'google' || row.provider === 'github' ? row.provider : 'oidc';
}

/** The sign-in method of an identity, as actor-type policies name it (`google`, `github`, `oidc:<id>`). */
function methodOf(row: Pick<IdentityRow, 'provider'>): AuthMethod {
  const type = providerTypeOf(row);
  return type === 'oidc' ? `oidc:${row.provider}` : type;
}

export function toIdentityDto(row: IdentityRow): Identity {
  return {
    id: row.id,
    provider: row.provider,
    provider_type: providerTypeOf(row),
    email: row.email,
    email_verified: row.email_verified,
    created_at: row.created_at.toISOString(),
    last_used_at: row.last_used_at?.toISOString() ?? null,
  };
}

export interface IdentitiesDeps {
  db: Knex;
  clock: Clock;
  externalSignIn: ExternalSignIn;
}

/** The signed-in user's external identities: list, explicit link, unlink (never the last way in). */
export class Identities {
  constructor(private readonly deps: IdentitiesDeps) {}

  async list(userId: string): Promise<IdentityList> {
    return { items: (await identitiesRepo.listForUser(this.deps.db, userId)).map(toIdentityDto), next_cursor: null };
  }

  /** Finishes a link started by this user: the identity joins the account, unless another account holds it. */
  async confirmLink(userId: string, input: { code: string; code_verifier?: string }, context: RequestContext): Promise<Identity> {
    const { db, clock, externalSignIn } = this.deps;
    const identity = await externalSignIn.takeLinkCode(userId, input.code, input.code_verifier);
    const alreadyLinked = () => new AppError('identity_already_linked', { detail: 'This external identity is linked to another account.' });
    try {
      return toIdentityDto(await db.transaction((trx) => link(trx, clock, userId, identity, { automatic: false, context })));
    } catch (err) {
      if (!isUniqueViolation(err)) throw err;
      const existing = await identitiesRepo.findByKey(db, identity);
      if (existing?.user_id === userId) return toIdentityDto(existing);
      throw alreadyLinked();
    }
  }

  /**
   * 409 last_sign_in_method when this identity is the account's last way in: no password, no
   * verified phone and no other identity that an actor type it holds allows (src/identity/ways-in.ts).
   */
  async unlink(userId: string, identityId: string, context: RequestContext): Promise<void> {
    const { db, clock } = this.deps;
    await db.transaction(async (trx) => {
      const user = await usersRepo.findLiveRecord(trx, userId, { lock: true });
      const identities = await identitiesRepo.lockForUser(trx, userId);
      const target = identities.find((i) => i.id === identityId);
      if (!user || !target) throw new AppError('identity_not_found', { detail: 'No such identity on your account.' });
      const remaining = { user, externalMethods: identities.filter((i) => i !== target).map(methodOf) };
      if (removingLastWayIn(remaining, await actorTypesRepo.heldBy(trx, userId), methodOf(target))) {
        throw new AppError('last_sign_in_method', {
          detail: 'This is the only way to sign in to your account: link another provider first, or set a password (password reset) or a phone number your account may sign in with.',
        });
      }
      await identitiesRepo.delete(trx, target.id);
      await recordAudit(trx, clock, { event: 'identity.unlinked', userId, identifier: target.email, context, details: { provider: target.provider } });
    });
  }
}
