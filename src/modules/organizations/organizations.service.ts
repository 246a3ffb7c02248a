import type { Knex } from 'knex';
import type { Member, MemberList, Organization, OrganizationCreateRequest, OrganizationList, OrganizationUpdateRequest } from '../../../sdk/src/types.gen.js';
import type { AuditEventName } from '../../identity/audit-trail.js';
import { assertMetadataFits } from '../../identity/metadata.js';
import { orgRolePolicy, type OrgRole } from '../../identity/org-roles.js';
import { organizationsRepo } from '../../identity/organizations.repo.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import type { Page, PageRequest } from '../../shared/pagination.js';
import type { RequestContext } from '../../shared/request-context.js';
import { membershipOf, recordOrgAudit, requireOrgPermission, toMember, toOrganization, type OrgCaller } from './membership.js';

const memberNotFound = () => new AppError('member_not_found', { detail: 'No such member of this organization.' });

function mapPage<T, U>(page: Page<T>, map: (item: T) => U): { items: U[]; next_cursor: string | null } {
  return { items: page.items.map(map), next_cursor: page.next_cursor };
}

/**
 * Organizations and their members (README "Organizations", spec tag `organizations`). Every
 * query goes through the caller's membership; each change writes its audit row in its own
 * transaction.
 */
export class OrganizationsService {
  private readonly db: Knex;
  private readonly clock: Clock;

  constructor(deps: { db: Knex; clock: Clock }) {
    ({ db: this.db, clock: this.clock } = deps);
  }

  async create(caller: OrgCaller, body: OrganizationCreateRequest, context: RequestContext): Promise<Organization> {
    const metadata = body.metadata ?? {};
    assertMetadataFits(metadata);
    const now = this.clock.now();
    const created = await this.db.transaction(async (trx) => {
      const org = await organizationsRepo.create(trx, { name: body.name, slug: body.slug, metadata, created_by: caller.sub }, caller.sub, now);
      await this.audit(trx, caller, 'organization.created', caller.sub, context, { organization_id: org.id, slug: org.slug });
      return org;
    });
    return toOrganization(created, created.role);
  }

  async list(userId: string, page: PageRequest): Promise<OrganizationList> {
    return mapPage(await organizationsRepo.listForMember(this.db, userId, page), (o) => toOrganization(o, o.role));
  }

  async get(userId: string, orgId: string): Promise<Organization> {
    const { organization, membership } = await membershipOf(this.db, orgId, userId);
    return toOrganization(organization, membership.role);
  }

  async update(caller: OrgCaller, orgId: string, patch: OrganizationUpdateRequest, context: RequestContext): Promise<Organization> {
    if (patch.metadata !== undefined) assertMetadataFits(patch.metadata);
    return this.db.transaction(async (trx) => {
      const { membership } = await membershipOf(trx, orgId, caller.sub, { permission: 'org:write:organization' });
      const updated = await organizationsRepo.update(trx, orgId, patch, this.clock.now());
      await this.audit(trx, caller, 'organization.updated', caller.sub, context, { organization_id: orgId, fields: Object.keys(patch).sort() });
      return toOrganization(updated, membership.role);
    });
  }

  /** Soft delete by an owner: members, sessions and keys lose the organization at once. */
  async delete(caller: OrgCaller, orgId: string, context: RequestContext): Promise<void> {
    await this.db.transaction(async (trx) => {
      const { organization } = await membershipOf(trx, orgId, caller.sub, { permission: 'org:delete:organization' });
      await organizationsRepo.softDelete(trx, orgId, this.clock.now());
      await this.audit(trx, caller, 'organization.deleted', caller.sub, context, { organization_id: orgId, slug: organization.slug });
    });
  }

  async listMembers(userId: string, orgId: string, page: PageRequest): Promise<MemberList> {
    await membershipOf(this.db, orgId, userId, { permission: 'org:read:members' });
    return mapPage(await organizationsRepo.listMembers(this.db, orgId, page), toMember);
  }

  /**
   * Owners change anyone's role; admins those below owner, never to owner. The database keeps
   * an owner (409 `last_owner`), whatever runs in parallel.
   */
  async updateMember(caller: OrgCaller, orgId: string, userId: string, role: OrgRole, context: RequestContext): Promise<Member> {
    return this.db.transaction(async (trx) => {
      const { membership: actor } = await membershipOf(trx, orgId, caller.sub, { permission: 'org:write:members' });
      const target = await organizationsRepo.findMember(trx, orgId, userId);
      const entry = target && (await organizationsRepo.memberEntry(trx, orgId, userId));
      if (!target || !entry) throw memberNotFound();
      if (!orgRolePolicy.mayAssign(actor.role, target.role, role)) {
        throw new AppError('permission_denied', { detail: `A ${actor.role} cannot make a ${target.role} ${role === 'admin' ? 'an' : 'a'} ${role}.` });
      }
      if (target.role !== role) {
        await organizationsRepo.setRole(trx, target.id, role, this.clock.now());
        await this.audit(trx, caller, 'organization.member_role_changed', userId, context, { organization_id: orgId, from: target.role, to: role });
      }
      return toMember({ ...entry, role });
    });
  }

  /** Your own id: you leave. Someone else: owners remove anyone, admins those below owner. */
  async removeMember(caller: OrgCaller, orgId: string, userId: string, context: RequestContext): Promise<void> {
    await this.db.transaction(async (trx) => {
      const { membership: actor } = await membershipOf(trx, orgId, caller.sub);
      const leaving = userId === caller.sub;
      if (!leaving) requireOrgPermission(actor, 'org:write:members');
      const target = leaving ? actor : await organizationsRepo.findMember(trx, orgId, userId);
      if (!target) throw memberNotFound();
      if (!leaving && !orgRolePolicy.mayRemove(actor.role, target.role)) {
        throw new AppError('permission_denied', { detail: `A ${actor.role} cannot remove a ${target.role}.` });
      }
      await organizationsRepo.removeMember(trx, target.id);
      await this.audit(trx, caller, leaving ? 'organization.member_left' : 'organization.member_removed', userId, context, { organization_id: orgId, role: target.role });
    });
  }

  private audit(trx: Knex.Transaction, caller: OrgCaller, event: AuditEventName, userId: string, context: RequestContext, details: Record<string, unknown>): Promise<void> {
    return recordOrgAudit(trx, this.clock, { caller, event, userId, context, details });
  }
}
