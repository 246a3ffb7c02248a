import { holdsPermission } from './access.js';

/** A member's role in an organization, strongest first. */
export type OrgRole = 'owner' | 'admin' | 'member' | 'viewer';
export const orgRoles: readonly OrgRole[] = ['owner', 'admin', 'member', 'viewer'];

/** An organization permission that only reads (`org:read:<resource>`). */
export type OrgReadPermission = `org:read:${string}`;
/** An organization permission that changes something. */
export type OrgWritePermission = `org:${'write' | 'delete'}:${string}`;
export type OrgPermission = OrgReadPermission | OrgWritePermission;

const reads = ['org:read:organization', 'org:read:members', 'org:read:data'] as const satisfies readonly OrgReadPermission[];
const memberWrites = ['org:write:data'] as const satisfies readonly OrgWritePermission[];
const adminOnly = ['org:write:organization', 'org:read:invitations', 'org:write:members', 'org:write:invitations', 'org:write:api_keys'] as const satisfies readonly OrgPermission[];
const ownerWrites = ['org:write:owners', 'org:delete:organization'] as const satisfies readonly OrgWritePermission[];

/**
 * The permission table of organization roles (README "Organizations"): owners manage
 * everything, admins manage the organization and every member below owner, members use the
 * organization's data, viewers only read. `org:read:data` and `org:write:data` are for your
 * product (`/permissions/check` with an organization answers them). A viewer's entry is typed
 * as reads only, so no edit of this table can give a viewer a write.
 */
const table: { owner: readonly OrgPermission[]; admin: readonly OrgPermission[]; member: readonly OrgPermission[]; viewer: readonly OrgReadPermission[] } = {
  owner: [...reads, ...memberWrites, ...adminOnly, ...ownerWrites],
  admin: [...reads, ...memberWrites, ...adminOnly],
  member: [...reads, ...memberWrites],
  viewer: reads,
};

/** Whether a permission only reads (`org:read:…`); everything else is a write. */
export function isReadPermission(permission: string): permission is OrgReadPermission {
  return permission.split(':')[1] === 'read';
}

export const orgRolePolicy = {
  permissionsOf(role: OrgRole): readonly OrgPermission[] {
    return table[role];
  },

  /** Whether `role` grants `permission`; a viewer is refused every write whatever the table says. */
  allows(role: OrgRole, permission: string): boolean {
    if (role === 'viewer' && !isReadPermission(permission)) return false;
    return holdsPermission(table[role], permission);
  },

  /**
   * Whether `actor` may give `target` (a member whose role is `from`, or an invitee when `from`
   * is undefined) the role `to`: owners manage everyone; admins manage members below owner and
   * never make an owner.
   */
  mayAssign(actor: OrgRole, from: OrgRole | undefined, to: OrgRole): boolean {
    if (!this.allows(actor, 'org:write:members')) return false;
    if (from === 'owner' || to === 'owner') return this.allows(actor, 'org:write:owners');
    return true;
  },

  /** Whether `actor` may remove a member whose role is `role` (leaving is always allowed). */
  mayRemove(actor: OrgRole, role: OrgRole): boolean {
    if (!this.allows(actor, 'org:write:members')) return false;
    return role !== 'owner' || this.allows(actor, 'org:write:owners');
  },
};
