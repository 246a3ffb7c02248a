import { randomBytes } from 'node:crypto';
import { roleGrantsRepo } from '../../src/identity/role-grants.repo.js';
import { syncQuotas } from '../../src/identity/user-quotas.repo.js';

import type { TestApp } from './app.js';
import { loggedInUser } from './flows.js';

/**
 * Grants a role straight in the database (the test's setup, as the first-admin command does),
 * then brings the user's quotas in line. `expiresAt` makes it a temporary grant.
 */
export async function grantRoleDirectly(app: TestApp, userId: string, role: string, expiresAt: Date | null = null): Promise<void> {
  const now = app.clock.now();
  await roleGrantsRepo.grantByName(app.db, userId, role, { now, expiresAt });
  await syncQuotas(app.db, userId, now);
}

/** A logged-in user who also holds `role` (admin checks read grants live, so the token needs no refresh). */
export async function userWithRole(app: TestApp, role: string) {
  const user = await loggedInUser(app);
  await grantRoleDirectly(app, user.user.id, role);
  return user;
}

/** A logged-in user holding the `admin` role (`*:*:*`). */
export function adminUser(app: TestApp) {
  return userWithRole(app, 'admin');
}

/** A new role (unique name, priority 60) holding exactly `permissions` (each in the catalogue), created straight in the database. */
export async function roleWithPermissions(app: TestApp, permissions: string[]): Promise<string> {
  const name = `test-${randomBytes(5).toString('hex')}`;
  const [role] = await app.db('roles').insert({ name, priority: 60, description: 'A test role' }).returning('id');
  const ids: Array<{ id: string }> = await app.db('permissions').whereIn('name', permissions).select('id');
  if (ids.length !== permissions.length) throw new Error(`unknown permission among ${permissions.join(', ')}`);
  if (ids.length) await app.db('role_permissions').insert(ids.map((p) => ({ role_id: role.id, permission_id: p.id })));
  return name;
}

/** A logged-in user holding a role with exactly `permissions` (none: a plain user with a role that grants nothing). */
export async function userWithPermissions(app: TestApp, permissions: string[]) {
  return userWithRole(app, await roleWithPermissions(app, permissions));
}
