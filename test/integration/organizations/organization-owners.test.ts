import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser } from '../../helpers/flows.js';
import { lockWaiters } from '../../helpers/locks.js';
import { addMemberDirectly, createOrganization, storedRoles } from '../../helpers/organizations.js';

/**
 * An organization always keeps an owner, enforced by PostgreSQL (migration `organizations`):
 * no code path and no race between demotions can leave none.
 */
describe('organizations keep at least one owner (in the database)', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  async function twoOwners() {
    const a = await loggedInUser(app);
    const b = await loggedInUser(app);
    const org = await createOrganization(app, a);
    await addMemberDirectly(app, org.id, b.user.id, 'owner');
    return { a, b, org };
  }

  it('two owners demoting each other at the same moment: one wins, the other is 409 last_owner, one owner is left', async () => {
    const { a, b, org } = await twoOwners();
    // Hold the organization's row as the owner rule takes it, so both demotions are in flight at once.
    let release!: () => void;
    const held = app.db.transaction(async (trx) => {
      await trx('organizations').where({ id: org.id }).forNoKeyUpdate();
      await new Promise<void>((resolve) => (release = resolve));
    });
    const demoteB = sdk.updateMember({ client: app.client, auth: a.session.access_token, path: { org_id: org.id, user_id: b.user.id }, body: { role: 'admin' } });
    const demoteA = sdk.updateMember({ client: app.client, auth: b.session.access_token, path: { org_id: org.id, user_id: a.user.id }, body: { role: 'admin' } });
    await lockWaiters(app, 2);
    release();
    await held;
    const results = await Promise.all([demoteB, demoteA]);
    const statuses = results.map((r) => r.response?.status).sort();
    expect(statuses).to.deep.equal([200, 409]);
    expectProblem(results.find((r) => r.response?.status === 409)!, 409, 'last_owner');
    expect(Object.values(await storedRoles(app, org.id)).filter((r) => r === 'owner')).to.have.length(1);
  });

  it('two owners leaving at the same moment: one leaves, the other stays owner (409 last_owner)', async () => {
    const { a, b, org } = await twoOwners();
    const results = await Promise.all(
      [a, b].map((u) => sdk.removeMember({ client: app.client, auth: u.session.access_token, path: { org_id: org.id, user_id: u.user.id } })),
    );
    expect(results.map((r) => r.response?.status).sort()).to.deep.equal([204, 409]);
    expect(Object.values(await storedRoles(app, org.id))).to.deep.equal(['owner']);
  });

  it('no code path gets around it: plain SQL demoting the last owner, in two interleaved transactions, is refused', async () => {
    const { a, b, org } = await twoOwners();
    const t1 = await app.db.transaction();
    const t2 = await app.db.transaction();
    try {
      await t1('organization_members').where({ organization_id: org.id, user_id: b.user.id }).update({ role: 'member' });
      const second = t2('organization_members').where({ organization_id: org.id, user_id: a.user.id }).update({ role: 'member' }).then(
        () => undefined,
        (err: { code?: string; constraint?: string }) => err,
      );
      await t1.commit();
      const refused = await second;
      expect(refused).to.include({ code: '23514', constraint: 'organization_members_keep_an_owner' });
    } finally {
      if (!t1.isCompleted()) await t1.rollback();
      if (!t2.isCompleted()) await t2.rollback().catch(() => undefined);
    }
    expect(await storedRoles(app, org.id)).to.deep.equal({ [a.user.id]: 'owner', [b.user.id]: 'member' });
    let deleted: unknown;
    await app.db('organization_members').where({ organization_id: org.id, user_id: a.user.id }).delete().catch((err) => (deleted = err));
    expect(deleted).to.include({ code: '23514' });
  });

  it('an organization cannot be created without an owner (checked at commit)', async () => {
    const a = await loggedInUser(app);
    let refused: unknown;
    await app.db
      .transaction(async (trx) => {
        const now = app.clock.now();
        await trx('organizations').insert({ name: 'Orphan', slug: `orphan-${a.user.id.slice(0, 8)}`, created_at: now, updated_at: now });
      })
      .catch((err) => (refused = err));
    expect(refused).to.include({ code: '23514', constraint: 'organization_members_keep_an_owner' });
  });

  it('a deleted organization needs no owner: its members can still be cleaned up', async () => {
    const a = await loggedInUser(app);
    const org = await createOrganization(app, a);
    await sdk.deleteOrganization({ client: app.client, auth: a.session.access_token, path: { org_id: org.id } });
    await app.db('organization_members').where({ organization_id: org.id }).delete();
    expect(await storedRoles(app, org.id)).to.deep.equal({});
  });
});
