import type { Knex } from 'knex';
import type { Clock } from '../../infra/clock.js';
import type { AccessTokens } from '../../infra/tokens.js';
import type { ActClaim } from '../../shared/request-context.js';
import { effectiveAccess, type EffectiveAccess } from '../access.js';
import { actorPolicy } from '../actor-policy.js';
import type { ActorTypeRow } from '../actor-types.repo.js';
import { organizationsRepo, type LiveMembership } from '../organizations.repo.js';
import type { UserRow } from '../users.repo.js';
import type { SessionRow } from './sessions.repo.js';

/** What a sign-in or a refresh answers: the access token, its refresh token, and its lifetime. */
export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** An access token and how long it lives (the non-refresh half of a token pair). */
export interface AccessGrant {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
}

/** The session fields an access token carries. */
export type IssuedSession = SessionRow & { device_id?: string | null; device_ref?: string | null; act?: ActClaim | null };

/** The claims of a session's access tokens, read fresh at each issue (at sign-in and at every refresh). */
export class AccessTokenIssuer {
  constructor(private readonly deps: { tokens: AccessTokens; clock: Clock }) {}

  /**
   * Signs an access token with the user's current roles and permissions (read here). Its
   * lifetime is the governed one, cut short when a role grant expires sooner (so an expired
   * grant stops granting).
   */
  async issue(db: Knex, session: IssuedSession, user: UserRow, actorType: ActorTypeRow, held: ActorTypeRow[]): Promise<AccessGrant> {
    const access = await effectiveAccess(db, user.id, this.deps.clock.now());
    // The active organization, read again at every refresh: a removed member's token drops it.
    const org = session.org_membership_id ? await organizationsRepo.liveMembership(db, session.org_membership_id) : undefined;
    return this.sign(session, user, actorType, held, access, org);
  }

  /** Loads the signing key (once in a while a read), so a caller can fail before it commits what the token is for. */
  async ready(): Promise<void> {
    await this.deps.tokens.ready();
  }

  /**
   * issue() for a caller that has read the access and the live membership itself (in the same
   * statement as the rest of its work): signs, reads nothing.
   */
  async sign(session: IssuedSession, user: UserRow, actorType: ActorTypeRow, held: ActorTypeRow[], access: EffectiveAccess, org: LiveMembership | undefined): Promise<AccessGrant> {
    const now = this.deps.clock.now();
    let ttl = actorPolicy.lifetimes(actorType, held).accessTtl;
    const secondsUntil = (end: Date) => Math.max(1, Math.min(ttl, Math.floor((end.getTime() - now.getTime()) / 1000)));
    if (access.validUntil) ttl = secondsUntil(access.validUntil);
    // An impersonation's tokens never outlive it, even for verifiers that only check them locally.
    if (session.act) ttl = secondsUntil(session.expires_at);
    // The registered device, else the app's own identifier (guests).
    const deviceId = session.device_ref ?? session.device_id;
    const { token } = await this.deps.tokens.sign(
      {
        sub: user.id,
        sid: session.id,
        actor_type: actorType.name,
        amr: session.amr,
        status: user.status,
        is_guest: user.is_guest,
        roles: access.roles.map((r) => r.name),
        permissions: access.permissions,
        ...(org ? { org_id: org.organization_id, org_role: org.role } : {}),
        plan: access.plan,
        ...(deviceId ? { device_id: deviceId } : {}),
        ...(session.act ? { act: session.act } : {}),
      },
      ttl,
    );
    return { access_token: token, token_type: 'Bearer', expires_in: ttl };
  }
}
