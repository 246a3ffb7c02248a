import type { Knex } from 'knex';

/**
 * The default actor-type catalogue (README "Actor types"). Existing rows are kept, so admin edits
 * survive. Self-signup types also allow the phone (`sms`) and cross-device (`qr`) sign-ins.
 */
export const actorTypeCatalogue = [
  { name: 'citizen', description: 'A citizen using public services', self_signup: true, require_2fa: false, priority: 10, allow_impersonation: true },
  { name: 'business', description: 'A company account', self_signup: true, require_2fa: false, priority: 20, allow_impersonation: true },
  { name: 'customer', description: 'A customer of a marketplace', self_signup: true, require_2fa: false, priority: 10, allow_impersonation: true },
  { name: 'merchant', description: 'A merchant selling on a marketplace', self_signup: true, require_2fa: false, priority: 20, allow_impersonation: true },
  { name: 'agent', description: 'A staff agent (created by an administrator)', self_signup: false, require_2fa: false, priority: 50, allow_impersonation: false },
  { name: 'admin', description: 'An administrator of this Sésame instance', self_signup: false, require_2fa: true, priority: 100, allow_impersonation: false },
].map((t) => ({ ...t, allowed_methods: t.self_signup ? ['password', 'sms', 'qr'] : ['password'], access_token_ttl: 1800, session_duration: 604800 }));

/** Guests (README "Guests, users and quotas"): created by `POST /auth/guest`, never by password; sessions last 30 days. */
actorTypeCatalogue.push({
  name: 'guest',
  description: 'A guest of an app, without email or password',
  self_signup: true,
  require_2fa: false,
  priority: 0,
  allow_impersonation: false,
  allowed_methods: ['guest'],
  access_token_ttl: 1800,
  session_duration: 2592000,
});

export async function seed(knex: Knex): Promise<void> {
  await knex('actor_types').insert(actorTypeCatalogue).onConflict('name').ignore();
}
