import type { Knex } from 'knex';

/** The system roles and their priorities (README "Roles and permissions"). */
export const roleCatalogue = [
  { name: 'admin', description: 'Administrateur système', priority: 100, is_system: true },
  { name: 'premium', description: 'Utilisateur premium', priority: 50, is_system: true },
  { name: 'free', description: 'Utilisateur gratuit', priority: 10, is_system: true },
  { name: 'guest', description: 'Utilisateur invité', priority: 0, is_system: true },
];

/** The product permissions (quiz, subscription, ads). */
export const productPermissions = [
  { name: 'quiz:play:free', description: 'Jouer aux quiz gratuits' },
  { name: 'quiz:play:premium', description: 'Jouer aux quiz premium' },
  { name: 'quiz:create:own', description: 'Créer ses propres quiz' },
  { name: 'subscription:view:plans', description: 'Voir les offres' },
  { name: 'subscription:purchase:*', description: "Acheter n'importe quelle offre" },
  { name: 'ads:skip:interstitial', description: 'Passer les publicités interstitielles' },
];

/** Sésame's own administration permissions; `*:*:*` is every permission (the admin role's). */
export const servicePermissions = [
  { name: '*:*:*', description: 'Every permission' },
  { name: 'sesame:read:users', description: 'Read any user, their quotas and roles' },
  { name: 'sesame:write:users', description: "Edit any user's profile and metadata" },
  { name: 'sesame:delete:users', description: 'Delete any user' },
  { name: 'sesame:grant:roles', description: 'Grant and revoke roles (never to oneself)' },
  { name: 'sesame:write:roles', description: "Create roles and edit a role's permissions" },
  { name: 'sesame:write:permissions', description: 'Define new permissions' },
  { name: 'sesame:check:permissions', description: "Check any user's permissions" },
  { name: 'sesame:write:quotas', description: "Consume and renew any user's quotas" },
  { name: 'sesame:write:actor_types', description: 'Edit actor-type policies' },
  { name: 'sesame:suspend:users', description: 'Suspend and reactivate users (suspension ends their sessions)' },
  { name: 'sesame:assign:actor_types', description: "Set another user's actor types" },
  { name: 'sesame:import:users', description: 'Import users with their password hashes' },
  { name: 'sesame:impersonate:users', description: 'Open a session as a user, with a reason' },
  { name: 'sesame:impersonate:admins', description: 'Impersonate a user who holds Sésame permissions or the admin actor type' },
  { name: 'sesame:read:audit_logs', description: 'Query and export the audit log' },
  { name: 'sesame:read:organizations', description: 'List and search every organization, and the members of any' },
];

/** Which role holds what (guest and free play free quizzes, premium gets every product permission). */
export const rolePermissionCatalogue: Record<string, string[]> = {
  admin: ['*:*:*'],
  premium: productPermissions.map((p) => p.name),
  free: ['quiz:play:free'],
  guest: ['quiz:play:free'],
};

/** Quotas per role: the guest's `quiz_plays` (5, renewed by watching an ad); free and premium get daily ones. */
export const quotaCatalogue = [
  { role: 'guest', quota_type: 'quiz_plays', max_allowed: 5, period_type: null, can_renew: true, renew_action: 'watch_ad' },
  { role: 'free', quota_type: 'quiz_plays', max_allowed: 20, period_type: 'daily', can_renew: true, renew_action: 'watch_ad' },
  { role: 'premium', quota_type: 'quiz_plays', max_allowed: 1000, period_type: 'daily', can_renew: false, renew_action: null },
];

function parts(name: string) {
  const [service, action, resource] = name.split(':') as [string, string, string];
  return { service, action, resource, name };
}

/** Inserts what is missing; existing rows (and an administrator's edits) are kept. */
export async function seed(knex: Knex): Promise<void> {
  await knex('roles').insert(roleCatalogue).onConflict('name').ignore();
  await knex('permissions')
    .insert([...productPermissions, ...servicePermissions].map((p) => ({ ...parts(p.name), description: p.description })))
    .onConflict('name')
    .ignore();
  const roles: Array<{ id: string; name: string }> = await knex('roles').whereIn('name', Object.keys(rolePermissionCatalogue)).select('id', 'name');
  const roleId = new Map(roles.map((r) => [r.name, r.id]));
  // Assignments are seeded once per role (while the role has none), so removals by an administrator stick.
  const assigned = new Set((await knex('role_permissions').distinct('role_id')).map((r: { role_id: string }) => r.role_id));
  for (const [role, names] of Object.entries(rolePermissionCatalogue)) {
    const id = roleId.get(role);
    if (!id || assigned.has(id)) continue;
    const permissions: Array<{ id: string }> = await knex('permissions').whereIn('name', names).select('id');
    await knex('role_permissions').insert(permissions.map((p) => ({ role_id: id, permission_id: p.id }))).onConflict(['role_id', 'permission_id']).ignore();
  }
  const definedFor = new Set((await knex('quota_definitions').distinct('role_id')).map((r: { role_id: string }) => r.role_id));
  const definitions = quotaCatalogue
    .filter((q) => roleId.has(q.role) && !definedFor.has(roleId.get(q.role)!))
    .map(({ role, ...q }) => ({ ...q, role_id: roleId.get(role)! }));
  if (definitions.length) await knex('quota_definitions').insert(definitions).onConflict(['role_id', 'quota_type']).ignore();
}
