import type { Knex } from 'knex';
import { likePrefix } from '../infra/db.js';
import { AppError } from '../shared/errors.js';
import { keysetPage, type Page, type PageRequest } from '../shared/pagination.js';
import type { OrgRole } from './org-roles.js';
import { isUniqueViolation } from '../infra/pg-errors.js';

export interface OrganizationRow {
  id: string;
  name: string;
  slug: string;
  metadata: Record<string, unknown>;
  created_by: string | null;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
}

/** A membership: one row per member and organization, a new one each time someone joins. */
export interface MembershipRow {
  id: string;
  organization_id: string;
  user_id: string;
  role: OrgRole;
  created_at: Date;
  updated_at: Date;
}

/** A live organization with the caller's role in it. */
export interface MemberOrganization extends OrganizationRow {
  role: OrgRole;
}

/** A member as the member list shows them. */
export interface MemberEntry {
  id: string;
  user_id: string;
  role: OrgRole;
  created_at: Date;
  email: string | null;
  first_name: string | null;
  last_name: string | null;
  display_name: string | null;
}

/** The live organization a membership row belongs to, and the role it gives. */
export interface LiveMembership {
  membership_id: string;
  organization_id: string;
  role: OrgRole;
}

/** What an administrator's organization search asks for (README "Administration"); every given criterion must hold. */
export interface OrganizationSearch {
  /** Start of the name, in any case. */
  namePrefix?: string;
  /** Start of the slug, in any case (slugs are lower-case). */
  slugPrefix?: string;
  /** true: only deleted organizations; false: only live ones; absent: both. */
  deleted?: boolean;
  /** Inclusive. */
  createdFrom?: Date;
  /** Exclusive. */
  createdBefore?: Date;
}

/** The database refuses to leave an organization without an owner (migration `organizations`). */
const lastOwnerConstraint = 'organization_members_keep_an_owner';

function pgError(err: unknown): { code?: string; constraint?: string } {
  return (err ?? {}) as { code?: string; constraint?: string };
}

/** Runs a change of owners; the database's refusal to leave no owner becomes 409 `last_owner`. */
async function keepingAnOwner<T>(change: Promise<T>): Promise<T> {
  try {
    return await change;
  } catch (err) {
    const e = pgError(err);
    if (e.code === '23514' && e.constraint === lastOwnerConstraint) {
      throw new AppError('last_owner', { detail: 'An organization keeps at least one owner: make someone else owner first.', cause: err });
    }
    throw err;
  }
}

async function uniqueSlug<T>(change: Promise<T>): Promise<T> {
  try {
    return await change;
  } catch (err) {
    if (isUniqueViolation(err, 'organizations_slug_unique')) {
      throw new AppError('organization_slug_taken', { detail: 'Another organization has this slug.', errors: [{ path: '/body/slug', message: 'is taken' }], cause: err });
    }
    throw err;
  }
}

function memberEntries(db: Knex, orgId: string): Knex.QueryBuilder {
  return db('organization_members as m')
    .join('users as u', 'u.id', 'm.user_id')
    .where('m.organization_id', orgId)
    .whereNull('u.deleted_at')
    .select('m.id', 'm.user_id', 'm.role', 'm.created_at', 'u.email', 'u.first_name', 'u.last_name', 'u.display_name');
}

/** `organizations` and `organization_members`. */
export const organizationsRepo = {
  /** A new organization and its first owner (the deferred trigger wants an owner by commit). */
  async create(trx: Knex.Transaction, org: Pick<OrganizationRow, 'name' | 'slug' | 'metadata' | 'created_by'>, ownerId: string, now: Date): Promise<MemberOrganization> {
    const [row] = await uniqueSlug(
      trx<OrganizationRow>('organizations')
        .insert({ ...org, metadata: JSON.stringify(org.metadata) as never, created_at: now, updated_at: now })
        .returning('*'),
    );
    await this.addMember(trx, { organization_id: row!.id, user_id: ownerId, role: 'owner' }, now);
    return { ...row!, role: 'owner' };
  },

  /**
   * The live organization and the user's membership in it; undefined when either is missing
   * (another organization's id answers like an unknown one).
   */
  async findForMember(db: Knex, orgId: string, userId: string): Promise<{ organization: OrganizationRow; membership: MembershipRow } | undefined> {
    const organization = await db<OrganizationRow>('organizations').where({ id: orgId }).whereNull('deleted_at').first();
    if (!organization) return undefined;
    const membership = await this.findMember(db, orgId, userId);
    return membership ? { organization, membership } : undefined;
  },

  /** The live organization, share-locked until the transaction ends: it cannot be deleted meanwhile. */
  async lockLive(trx: Knex.Transaction, orgId: string): Promise<OrganizationRow | undefined> {
    return trx<OrganizationRow>('organizations').where({ id: orgId }).whereNull('deleted_at').forShare().first();
  },

  async findMember(db: Knex, orgId: string, userId: string): Promise<MembershipRow | undefined> {
    return db<MembershipRow>('organization_members').where({ organization_id: orgId, user_id: userId }).first();
  },

  /** The user's live organizations with their role, newest first. */
  async listForMember(db: Knex, userId: string, page: PageRequest): Promise<Page<MemberOrganization>> {
    const rows = db('organizations as o')
      .join('organization_members as m', 'm.organization_id', 'o.id')
      .where('m.user_id', userId)
      .whereNull('o.deleted_at')
      .select('o.*', 'm.role');
    return keysetPage<MemberOrganization>(db, db.select('*').from(rows.as('x')), page);
  },

  async update(trx: Knex.Transaction, orgId: string, changes: Partial<Pick<OrganizationRow, 'name' | 'slug' | 'metadata'>>, now: Date): Promise<OrganizationRow> {
    const values: Record<string, unknown> = { ...changes, updated_at: now };
    if (changes.metadata !== undefined) values.metadata = JSON.stringify(changes.metadata);
    const [row] = await uniqueSlug(trx<OrganizationRow>('organizations').where({ id: orgId }).update(values).returning('*'));
    return row!;
  },

  /** Soft delete: the row stays for the audit log; the slug is free again. */
  async softDelete(trx: Knex.Transaction, orgId: string, now: Date): Promise<void> {
    await trx('organizations').where({ id: orgId }).update({ deleted_at: now, updated_at: now });
  },

  async addMember(trx: Knex.Transaction, member: Pick<MembershipRow, 'organization_id' | 'user_id' | 'role'>, now: Date): Promise<MembershipRow> {
    const [row] = await trx<MembershipRow>('organization_members')
      .insert({ ...member, created_at: now, updated_at: now })
      .returning('*');
    return row!;
  },

  /** The organization's members (live accounts), newest first. */
  async listMembers(db: Knex, orgId: string, page: PageRequest): Promise<Page<MemberEntry>> {
    return keysetPage<MemberEntry>(db, db.select('*').from(memberEntries(db, orgId).as('x')), page);
  },

  /** One member (a live account) as the member list shows them. */
  async memberEntry(db: Knex, orgId: string, userId: string): Promise<MemberEntry | undefined> {
    return memberEntries(db, orgId).where('m.user_id', userId).first();
  },

  /** 409 `last_owner` when it would leave the organization without an owner. */
  async setRole(trx: Knex.Transaction, membershipId: string, role: OrgRole, now: Date): Promise<MembershipRow> {
    const [row] = await keepingAnOwner(trx<MembershipRow>('organization_members').where({ id: membershipId }).update({ role, updated_at: now }).returning('*'));
    return row!;
  },

  /** 409 `last_owner` when it would leave the organization without an owner. */
  async removeMember(trx: Knex.Transaction, membershipId: string): Promise<void> {
    await keepingAnOwner(trx('organization_members').where({ id: membershipId }).delete());
  },

  /**
   * Removes every membership of the user (a deleted account); returns the organizations left.
   * 409 `last_owner` when the user is the only owner of a live organization.
   */
  async removeAllOf(trx: Knex.Transaction, userId: string): Promise<string[]> {
    const rows: Array<{ organization_id: string }> = await keepingAnOwner(trx('organization_members').where({ user_id: userId }).delete().returning('organization_id'));
    return rows.map((r) => r.organization_id);
  },

  /** Every organization (deleted ones too) matching `search`, newest first, a keyset page at a time. */
  async search(db: Knex, search: OrganizationSearch, page: PageRequest): Promise<Page<OrganizationRow>> {
    const query = db('organizations').select('*');
    if (search.namePrefix !== undefined) query.whereRaw('lower(name) like ?', [likePrefix(search.namePrefix.trim().toLowerCase())]);
    if (search.slugPrefix !== undefined) query.where('slug', 'like', likePrefix(search.slugPrefix.toLowerCase()));
    if (search.deleted !== undefined) query.where((q) => (search.deleted ? q.whereNotNull('deleted_at') : q.whereNull('deleted_at')));
    if (search.createdFrom) query.where('created_at', '>=', search.createdFrom);
    if (search.createdBefore) query.where('created_at', '<', search.createdBefore);
    return keysetPage<OrganizationRow>(db, query, page);
  },

  /** How many members whose account is not deleted each of these organizations has (absent: none). */
  async liveMemberCounts(db: Knex, orgIds: string[]): Promise<Map<string, number>> {
    const rows: Array<{ organization_id: string; members: number }> = orgIds.length
      ? await db('organization_members as m')
          .join('users as u', 'u.id', 'm.user_id')
          .whereIn('m.organization_id', orgIds)
          .whereNull('u.deleted_at')
          .groupBy('m.organization_id')
          .select('m.organization_id', db.raw('count(*)::int as members'))
      : [];
    return new Map(rows.map((r) => [r.organization_id, r.members]));
  },

  /**
   * A subquery of the ids of members (one column, for the user search): of `organizationId`
   * when given, deleted or not (an administrator named it), else of any live organization;
   * holding `role` when given.
   */
  memberIdsOf(db: Knex, filter: { organizationId?: string; role?: OrgRole }): Knex.QueryBuilder {
    const query = db('organization_members as m').select('m.user_id');
    if (filter.organizationId !== undefined) query.where('m.organization_id', filter.organizationId);
    else query.whereExists(db('organizations as o').whereRaw('o.id = m.organization_id').whereNull('o.deleted_at'));
    if (filter.role !== undefined) query.where('m.role', filter.role);
    return query;
  },

  /** The membership if it still exists and its organization is live (a session's or a key's). */
  async liveMembership(db: Knex, membershipId: string): Promise<LiveMembership | undefined> {
    return organizationsRepo.liveMembershipQuery(db, membershipId).first();
  },

  /** liveMembership's query, for a statement that reads more at once (the membership then one of its columns: `db.raw(…)`). */
  liveMembershipQuery(db: Knex, membershipId: string | Knex.Raw): Knex.QueryBuilder {
    return db('organization_members as m')
      .join('organizations as o', 'o.id', 'm.organization_id')
      .where('m.id', membershipId)
      .whereNull('o.deleted_at')
      .select('m.id as membership_id', 'm.organization_id', 'm.role');
  },
};
