import type { Knex } from 'knex';
import type { Invitation, Member, Organization } from '../../../sdk/src/types.gen.js';
import { recordAudit, type AuditEventName } from '../../identity/audit-trail.js';
import { orgRolePolicy, type OrgPermission } from '../../identity/org-roles.js';
import { organizationsRepo, type MemberEntry, type MembershipRow, type OrganizationRow } from '../../identity/organizations.repo.js';
import { usersRepo } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import type { InvitationRow } from './invitations.repo.js';

/** Who acts: the access token's user and session. */
export interface OrgCaller {
  sub: string;
  sid: string;
}

export const organizationNotFound = () => new AppError('organization_not_found', { detail: 'No such organization among yours.' });

/** The caller's membership in a live organization. */
export interface Membership {
  organization: OrganizationRow;
  membership: MembershipRow;
}

/**
 * Every organization operation starts here: the organization is found only through the
 * caller's membership, so another organization's id answers 404 exactly like an unknown one.
 * With `permission`, a member whose role lacks it gets 403. Nothing is locked: the database
 * keeps an owner whatever runs in parallel (migration `organizations`).
 */
export async function membershipOf(db: Knex, orgId: string, userId: string, options: { permission?: OrgPermission } = {}): Promise<Membership> {
  const found = await organizationsRepo.findForMember(db, orgId, userId);
  if (!found) throw organizationNotFound();
  if (options.permission) requireOrgPermission(found.membership, options.permission);
  return found;
}

export function requireOrgPermission(membership: Pick<MembershipRow, 'role'>, permission: OrgPermission): void {
  if (!orgRolePolicy.allows(membership.role, permission)) {
    throw new AppError('permission_denied', { detail: `A ${membership.role} of this organization cannot do this.` });
  }
}

export function toOrganization(row: OrganizationRow, role: MembershipRow['role']): Organization {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    metadata: row.metadata,
    role,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
  };
}

export function toMember(entry: MemberEntry): Member {
  return {
    user_id: entry.user_id,
    role: entry.role,
    email: entry.email,
    first_name: entry.first_name,
    last_name: entry.last_name,
    display_name: entry.display_name,
    joined_at: entry.created_at.toISOString(),
  };
}

export function toInvitation(row: InvitationRow): Invitation {
  return {
    id: row.id,
    organization_id: row.organization_id,
    email: row.email,
    role: row.role,
    status: row.status,
    invited_by: row.invited_by,
    expires_at: row.expires_at.toISOString(),
    created_at: row.created_at.toISOString(),
    responded_at: row.responded_at?.toISOString() ?? null,
  };
}

/**
 * The audit row of an organization change, in its transaction: about `userId` (the member
 * concerned), done by the caller, who is the actor when it is someone else.
 */
export async function recordOrgAudit(
  trx: Knex.Transaction,
  clock: Clock,
  e: { caller: OrgCaller; event: AuditEventName; userId: string | null; context: RequestContext; details: Record<string, unknown>; identifier?: string },
): Promise<void> {
  const self = e.userId === e.caller.sub;
  await recordAudit(trx, clock, {
    event: e.event,
    userId: e.userId,
    actorId: self ? null : e.caller.sub,
    sessionId: self ? e.caller.sid : null,
    identifier: e.identifier ?? (e.userId ? await usersRepo.identifierOf(trx, e.userId) : null),
    context: e.context,
    details: e.details,
  });
}
