import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../sdk/src/index.js';
import type { TestApp } from './app.js';

/** A full actor-type policy: password only, no self-signup, no 2FA, default lifetimes. */
export function actorTypePolicy(overrides: Partial<sdk.ActorTypePolicy> = {}): sdk.ActorTypePolicy {
  return {
    allowed_methods: ['password'],
    self_signup: false,
    require_2fa: false,
    access_token_ttl: 1800,
    session_duration: 604800,
    allow_impersonation: false,
    priority: 10,
    ...overrides,
  };
}

/** A unique name for a test's own actor type (seeded types are never edited by tests), recorded in `created`. */
export function customActorTypeName(created: string[]): string {
  const name = `t-${randomBytes(5).toString('hex')}`;
  created.push(name);
  return name;
}

/** Creates a uniquely named actor type through the API, as an administrator would. */
export async function createCustomActorType(app: TestApp, adminToken: string, created: string[], overrides: Partial<sdk.ActorTypePolicy> = {}): Promise<string> {
  const name = customActorTypeName(created);
  const { error } = await sdk.putActorType({ client: app.client, auth: adminToken, path: { name }, body: actorTypePolicy(overrides) });
  expect(error, JSON.stringify(error)).to.equal(undefined);
  return name;
}

/**
 * Removes the suite's actor types (and what refers to them) after it. Call it before
 * useTestApp: mocha runs `after` hooks in order, so this one runs while the database is open.
 */
export function removeCustomActorTypesAfter(getApp: () => TestApp, created: string[]): void {
  after(async () => {
    if (!created.length) return;
    const db = getApp().db;
    await db('sessions').whereIn('actor_type', created).delete();
    await db('mfa_challenges').whereIn('actor_type', created).delete();
    await db('user_actor_types').whereIn('actor_type', created).delete();
    await db('actor_types').whereIn('name', created).delete();
  });
}
