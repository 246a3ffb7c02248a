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
