import type { Knex } from 'knex';
import type { AdminOrganization, AdminOrganizationList, SearchOrganizationsData } from '../../../sdk/src/types.gen.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { requirePermission } from '../../identity/authorize.js';
import { organizationsRepo, type OrganizationRow } from '../../identity/organizations.repo.js';
import type { Clock } from '../../infra/clock.js';
import type { VerifiedAccessToken } from '../../infra/tokens.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { RequestContext } from '../../shared/request-context.js';
import { adminPermissions, createdRange, searchAuditDetails } from './admin-permissions.js';

export type OrganizationSearchQuery = NonNullable<SearchOrganizationsData['query']>;

export interface AdminOrganizationsDeps {
  db: Knex;
  clock: Clock;
}

function toAdminOrganization(row: OrganizationRow, members: number): AdminOrganization {
  return {
    id: row.id,
    name: row.name,
    slug: row.slug,
    metadata: row.metadata,
    created_by: row.created_by,
    member_count: members,
    created_at: row.created_at.toISOString(),
    updated_at: row.updated_at.toISOString(),
    deleted_at: row.deleted_at?.toISOString() ?? null,
  };
}

/**
 * Every organization, for administrators (README "Administration"): not scoped by membership,
 * deleted ones included unless filtered out. The permission is checked live at each call, and
 * each call writes one audit row naming the administrator.
 */
export class AdminOrganizations {
  constructor(private readonly deps: AdminOrganizationsDeps) {}

  async search(caller: Pick<VerifiedAccessToken, 'sub'>, query: OrganizationSearchQuery, page: PageRequest, context: RequestContext): Promise<AdminOrganizationList> {
    const { db, clock } = this.deps;
    await requirePermission(db, clock, caller.sub, adminPermissions.readOrganizations);
    const found = await organizationsRepo.search(
      db,
      {
        namePrefix: query.name,
        slugPrefix: query.slug,
        deleted: query.deleted,
        ...createdRange(query),
      },
      page,
    );
    const members = await organizationsRepo.liveMemberCounts(db, found.items.map((o) => o.id));
    const items = found.items.map((o) => toAdminOrganization(o, members.get(o.id) ?? 0));
    await recordAudit(db, clock, { event: 'admin.organizations_searched', actorId: caller.sub, context, details: searchAuditDetails(query, ['name', 'slug'], items.length) });
    return { items, next_cursor: found.next_cursor };
  }
}
