import type { Knex } from 'knex';
import type { Invitation, InvitationCreateRequest, InvitationList, Organization } from '../../../sdk/src/types.gen.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { orgRolePolicy } from '../../identity/org-roles.js';
import { organizationsRepo } from '../../identity/organizations.repo.js';
import { normalizeEmail, usersRepo, type UserRow } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { enqueueMessage } from '../../infra/messages/outbox.js';
import { hashOpaqueToken, newOpaqueToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import { maskEmail } from '../../shared/logger.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { RequestContext } from '../../shared/request-context.js';
import { invitationsRepo, type InvitationRow } from './invitations.repo.js';
import { membershipOf, recordOrgAudit, toInvitation, toOrganization, type OrgCaller } from './membership.js';

/** How long an invitation can be accepted. */
export const invitationTtlMs = 7 * 24 * 3600 * 1000;

const invalid = () => new AppError('invitation_invalid', { detail: 'This invitation is not valid (unknown, already used, declined or revoked).' });

function displayName(user: UserRow): string {
  const full = [user.first_name, user.last_name].filter(Boolean).join(' ');
  return user.display_name ?? (full || user.email || 'Someone');
}

/**
 * Invitations (README "Organizations"): bearer secrets stored as hashes, emailed through the
 * outbox, 7 days, single use, accepted only by a signed-in account whose verified email is the
 * invited one. At most one is pending per email and organization.
 */
export class InvitationsService {
  private readonly db: Knex;
  private readonly clock: Clock;
  private readonly appUrl: string;

  constructor(deps: { db: Knex; clock: Clock; settings: { appUrl: string } }) {
    ({ db: this.db, clock: this.clock } = deps);
    this.appUrl = deps.settings.appUrl;
  }

  /** 404 unless the caller is a member, 403 unless they may invite: checked before the per-organization limit counts. */
  async assertMayInvite(userId: string, orgId: string): Promise<void> {
    await membershipOf(this.db, orgId, userId, { permission: 'org:write:invitations' });
  }

  async create(caller: OrgCaller, orgId: string, body: InvitationCreateRequest, context: RequestContext): Promise<Invitation> {
    const email = normalizeEmail(body.email);
    const now = this.clock.now();
    const token = newOpaqueToken();
    return this.db.transaction(async (trx) => {
      const { organization, membership } = await membershipOf(trx, orgId, caller.sub, { permission: 'org:write:invitations' });
      if (!orgRolePolicy.mayAssign(membership.role, undefined, body.role)) {
        throw new AppError('permission_denied', { detail: `A ${membership.role} cannot invite an ${body.role}.` });
      }
      const invitee = await usersRepo.findLiveByEmail(trx, email);
      if (invitee && (await organizationsRepo.findMember(trx, orgId, invitee.id))) {
        throw new AppError('already_member', { detail: 'This email is already a member of the organization.' });
      }
      await invitationsRepo.expireStale(trx, orgId, email, now);
      const row = await invitationsRepo.insert(trx, {
        organization_id: orgId,
        email,
        role: body.role,
        token_hash: token.hash,
        invited_by: caller.sub,
        expires_at: new Date(now.getTime() + invitationTtlMs),
        created_at: now,
      });
      const inviter = (await usersRepo.findLiveById(trx, caller.sub))!;
      const link = `${this.appUrl}/accept-invitation?token=${token.token}`;
      await enqueueMessage(trx, this.clock, {
        channel: 'email',
        to: email,
        template: 'organization_invitation',
        language: invitee?.language ?? body.language ?? inviter.language,
        params: { inviter: displayName(inviter), organization: organization.name, role: body.role, link },
        data: { token: token.token, link },
      });
      await recordOrgAudit(trx, this.clock, {
        caller,
        event: 'organization.invitation_created',
        userId: caller.sub,
        context,
        details: { organization_id: orgId, invitation_id: row.id, role: body.role, invitee: maskEmail(email) },
      });
      return toInvitation(row);
    });
  }

  async list(userId: string, orgId: string, page: PageRequest): Promise<InvitationList> {
    await membershipOf(this.db, orgId, userId, { permission: 'org:read:invitations' });
    const { items, next_cursor } = await invitationsRepo.list(this.db, orgId, page);
    return { items: items.map(toInvitation), next_cursor };
  }

  async revoke(caller: OrgCaller, orgId: string, invitationId: string, context: RequestContext): Promise<void> {
    await this.db.transaction(async (trx) => {
      await membershipOf(trx, orgId, caller.sub, { permission: 'org:write:invitations' });
      const row = await invitationsRepo.lockPending(trx, orgId, invitationId);
      if (!row) throw new AppError('invitation_not_found', { detail: 'No such pending invitation in this organization.' });
      await invitationsRepo.respond(trx, row.id, 'revoked', this.clock.now());
      await recordOrgAudit(trx, this.clock, { caller, event: 'organization.invitation_revoked', userId: caller.sub, context, details: { organization_id: orgId, invitation_id: row.id } });
    });
  }

  /** The signed-in caller joins, if the invitation is theirs: same email, verified. */
  async accept(caller: OrgCaller, token: string, context: RequestContext): Promise<Organization> {
    return this.db.transaction(async (trx) => {
      const invitation = await this.pending(trx, token);
      const user = await usersRepo.findLiveById(trx, caller.sub);
      if (!user?.email || normalizeEmail(user.email) !== invitation.email) {
        throw new AppError('invitation_email_mismatch', { detail: 'This invitation is for another email address: sign in with the invited one.' });
      }
      if (!user.email_verified_at) throw new AppError('email_not_verified', { detail: 'Verify your email address before accepting the invitation.' });
      const organization = await organizationsRepo.lockLive(trx, invitation.organization_id);
      if (!organization) throw invalid();
      if (await organizationsRepo.findMember(trx, invitation.organization_id, user.id)) {
        throw new AppError('already_member', { detail: 'You are already a member of this organization.' });
      }
      const now = this.clock.now();
      await organizationsRepo.addMember(trx, { organization_id: invitation.organization_id, user_id: user.id, role: invitation.role }, now);
      await invitationsRepo.respond(trx, invitation.id, 'accepted', now, user.id);
      await recordOrgAudit(trx, this.clock, {
        caller,
        event: 'organization.invitation_accepted',
        userId: user.id,
        context,
        details: { organization_id: invitation.organization_id, invitation_id: invitation.id, role: invitation.role },
      });
      return toOrganization(organization, invitation.role);
    });
  }

  /** Anyone holding the token may decline it: the invitation ends. */
  async decline(token: string, context: RequestContext): Promise<void> {
    await this.db.transaction(async (trx) => {
      const invitation = await this.pending(trx, token);
      await invitationsRepo.respond(trx, invitation.id, 'declined', this.clock.now());
      const invitee = await usersRepo.findLiveByEmail(trx, invitation.email);
      await recordAudit(trx, this.clock, {
        event: 'organization.invitation_declined',
        userId: invitee?.id ?? null,
        identifier: invitation.email,
        context,
        details: { organization_id: invitation.organization_id, invitation_id: invitation.id },
      });
    });
  }

  /** The pending, unexpired invitation of a token, locked; 400 otherwise. */
  private async pending(trx: Knex.Transaction, token: string): Promise<InvitationRow> {
    const invitation = await invitationsRepo.lockByTokenHash(trx, hashOpaqueToken(token));
    if (!invitation || invitation.status !== 'pending') throw invalid();
    if (invitation.expires_at <= this.clock.now()) throw new AppError('invitation_expired', { detail: 'This invitation has expired; ask for a new one.' });
    return invitation;
  }
}
