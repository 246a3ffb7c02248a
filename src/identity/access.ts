import type { Knex } from 'knex';

export type Plan = 'free' | 'premium' | 'trial';

export interface HeldRole {
  role_id: string;
  name: string;
  priority: number;
  expires_at: Date | null;
}

/** What a user may do now: unexpired roles (highest priority first) and their permissions. */
export interface EffectiveAccess {
  roles: HeldRole[];
  permissions: string[];
  plan: Plan;
  /** When the first expiring grant ends (tokens must not outlive it), or null. */
  validUntil: Date | null;
}

/**
 * Whether a granted permission covers a required one: each `service:action:resource` part is
 * equal, or `*` in the granted one.
 */
export function permissionMatches(granted: string, required: string): boolean {
  const g = granted.split(':');
  const r = required.split(':');
  if (g.length !== 3 || r.length !== 3) return false;
  return g.every((part, i) => part === '*' || part === r[i]);
}

export function holdsPermission(granted: Iterable<string>, required: string): boolean {
  for (const g of granted) if (permissionMatches(g, required)) return true;
  return false;
}

/**
 * The permissions two grants have in common, as patterns: a required permission is covered by
 * the result exactly when both `a` and `b` cover it (`quiz:*:*` ∩ `*:play:*` is `quiz:play:*`).
 */
export function intersectPermissions(a: Iterable<string>, b: Iterable<string>): string[] {
  const common = new Set<string>();
  const right = [...b].map((p) => p.split(':'));
  for (const granted of a) {
    const left = granted.split(':');
    if (left.length !== 3) continue;
    for (const other of right) {
      if (other.length !== 3) continue;
      const parts = left.map((part, i) => (part === other[i] || other[i] === '*' ? part : part === '*' ? other[i]! : undefined));
      if (parts.every((p) => p !== undefined)) common.add(parts.join(':'));
    }
  }
  return [...common].sort();
}

export function planOf(roles: HeldRole[]): Plan {
  const premium = roles.find((r) => r.name === 'premium');
  if (!premium) return 'free';
  return premium.expires_at ? 'trial' : 'premium';
}

/** One row per (unexpired grant, permission of its role): what `effectiveAccess` reads. */
export type GrantRow = HeldRole & { permission: string | null };

/**
 * The query of the user's unexpired role grants with their permissions, as of `now`: a builder,
 * so a statement that reads more at once can embed it (e.g. as a `json_agg` subquery, the user
 * then a column of that statement: `db.ref('u.id')` or `db.raw('refresh.user_id')`).
 */
export function grantRowsQuery(db: Knex, userId: string | Knex.Raw | Knex.Ref<string, Record<string, string>>, now: Date): Knex.QueryBuilder {
  return db('user_roles as ur')
    .join('roles as r', 'r.id', 'ur.role_id')
    .leftJoin('role_permissions as rp', 'rp.role_id', 'r.id')
    .leftJoin('permissions as p', 'p.id', 'rp.permission_id')
    .where('ur.user_id', userId)
    .andWhere((q) => q.whereNull('ur.expires_at').orWhere('ur.expires_at', '>', now))
    .select('r.id as role_id', 'r.name', 'r.priority', 'ur.expires_at', 'p.name as permission');
}

/** The effective access the grant rows make (roles highest priority first, permissions sorted). */
export function toEffectiveAccess(rows: GrantRow[]): EffectiveAccess {
  const roles = new Map<string, HeldRole>();
  const permissions = new Set<string>();
  for (const row of rows) {
    if (!roles.has(row.role_id)) roles.set(row.role_id, { role_id: row.role_id, name: row.name, priority: row.priority, expires_at: row.expires_at });
    if (row.permission) permissions.add(row.permission);
  }
  const held = [...roles.values()].sort((a, b) => b.priority - a.priority || a.name.localeCompare(b.name));
  const expiring = held.map((r) => r.expires_at).filter((d): d is Date => d !== null);
  return {
    roles: held,
    permissions: [...permissions].sort(),
    plan: planOf(held),
    validUntil: expiring.length ? new Date(Math.min(...expiring.map((d) => d.getTime()))) : null,
  };
}

/** The user's unexpired role grants and the permissions they carry, as of `now`. */
export async function effectiveAccess(db: Knex, userId: string, now: Date): Promise<EffectiveAccess> {
  return toEffectiveAccess(await grantRowsQuery(db, userId, now));
}
