import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser } from '../../helpers/flows.js';
import { addMemberDirectly, createOrganization, type SignedIn } from '../../helpers/organizations.js';
import { adminUser, userWithPermissions } from '../../helpers/rbac.js';

describe('admin: every organization (GET /admin/organizations)', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const search = (token: string, query: sdk.SearchOrganizationsData['query'] = {}) => sdk.searchOrganizations({ client: app.client, auth: token, query });
  /** The ids a search finds (the request must succeed). */
  const idsOf = async (token: string, query: sdk.SearchOrganizationsData['query']) => {
    const { data, error } = await search(token, query);
    expect(error, JSON.stringify(error)).to.equal(undefined);
    return data!.items.map((o) => o.id);
  };
  /** A tag no other test's organizations carry, usable in a name and a slug. */
  const uniqueTag = () => `t${randomBytes(4).toString('hex')}`;

  it('pages through more organizations than a page, newest first, whoever their members are, with none twice', async () => {
    const admin = await adminUser(app);
    const tag = uniqueTag();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      app.clock.advance(1_000);
      // Each by its own owner: the administrator belongs to none of them.
      ids.push((await createOrganization(app, await loggedInUser(app), { name: `${tag} shop ${i}`, slug: `${tag}-${i}` })).id);
    }
    const seen: string[] = [];
    const sizes: number[] = [];
    let cursor: string | undefined;
    do {
      const { data, error } = await search(admin.session.access_token, { slug: tag, limit: 2, ...(cursor ? { cursor } : {}) });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      sizes.push(data!.items.length);
      seen.push(...data!.items.map((o) => o.id));
      cursor = data!.next_cursor ?? undefined;
    } while (cursor);
    expect(sizes).to.deep.equal([2, 2, 1]);
    expect(seen).to.deep.equal([...ids].reverse());
  });

  it('searches by the start of the name (any case) or the slug, filters deleted or live and the creation time, all together', async () => {
    const admin = await adminUser(app);
    const t = admin.session.access_token;
    const tag = uniqueTag();
    const owner = await loggedInUser(app);
    const start = app.clock.now();
    const bakery = await createOrganization(app, owner, { name: `${tag} Boulangerie`, slug: `${tag}-bakery` });
    app.clock.advance(10_000);
    const closed = await createOrganization(app, owner, { name: `${tag} Boucherie`, slug: `${tag}-butcher` });
    app.clock.advance(10_000);
    const florist = await createOrganization(app, owner, { name: `${tag} Fleurs`, slug: `${tag}-florist` });
    expect((await sdk.deleteOrganization({ client: app.client, auth: owner.session.access_token, path: { org_id: closed.id } })).response!.status).to.equal(204);

    expect(await idsOf(t, { name: tag.toUpperCase() })).to.deep.equal([florist.id, closed.id, bakery.id]);
    expect(await idsOf(t, { name: `${tag} bou` })).to.deep.equal([closed.id, bakery.id]);
    expect(await idsOf(t, { slug: `${tag.toUpperCase()}-B` })).to.deep.equal([closed.id, bakery.id]);
    expect(await idsOf(t, { name: tag, deleted: true })).to.deep.equal([closed.id]);
    expect(await idsOf(t, { name: tag, deleted: false })).to.deep.equal([florist.id, bakery.id]);
    const range = { created_after: new Date(start.getTime() + 5_000).toISOString(), created_before: new Date(start.getTime() + 15_000).toISOString() };
    expect(await idsOf(t, { name: tag, ...range })).to.deep.equal([closed.id]);
    expect(await idsOf(t, { name: tag, deleted: false, ...range })).to.deep.equal([]);
    expect(await idsOf(t, { name: tag, created_after: range.created_before })).to.deep.equal([florist.id]);

    const { data } = await search(t, { slug: `${tag}-butcher` });
    expect(data!.items[0]).to.deep.include({ id: closed.id, name: `${tag} Boucherie`, slug: `${tag}-butcher`, created_by: owner.user.id, member_count: 1 });
    expect(data!.items[0]!.deleted_at).to.be.a('string');
    expect((await search(t, { slug: `${tag}-bakery` })).data!.items[0]!.deleted_at).to.equal(null);
  });

  it('counts the members whose account is not deleted', async () => {
    const admin = await adminUser(app);
    const tag = uniqueTag();
    const owner = await loggedInUser(app);
    const org = await createOrganization(app, owner, { name: tag, slug: tag });
    const members: SignedIn[] = [await loggedInUser(app), await loggedInUser(app)];
    for (const member of members) await addMemberDirectly(app, org.id, member.user.id, 'member');
    const count = async () => (await search(admin.session.access_token, { slug: tag })).data!.items[0]!.member_count;
    expect(await count()).to.equal(3);
    await sdk.deleteUser({ client: app.client, auth: members[0]!.session.access_token, path: { user_id: members[0]!.user.id } });
    expect(await count()).to.equal(2);
  });

  it('takes LIKE wildcards in a search term literally', async () => {
    const admin = await adminUser(app);
    await createOrganization(app, await loggedInUser(app), { name: `Wild ${uniqueTag()}` });
    expect(await idsOf(admin.session.access_token, { name: '%' })).to.deep.equal([]);
    expect(await idsOf(admin.session.access_token, { name: '_' })).to.deep.equal([]);
  });

  it('needs sesame:read:organizations: a member of organizations, and an administrator lacking it, get 403 permission_denied', async () => {
    const owner = await loggedInUser(app);
    await createOrganization(app, owner);
    expectProblem(await search(owner.session.access_token), 403, 'permission_denied');
    const userReader = await userWithPermissions(app, ['sesame:read:users', 'sesame:read:audit_logs']);
    expectProblem(await search(userReader.session.access_token), 403, 'permission_denied');
    const reader = await userWithPermissions(app, ['sesame:read:organizations']);
    expect((await search(reader.session.access_token, { limit: 1 })).response?.status).to.equal(200);
    expect(await app.db('audit_logs').whereIn('actor_id', [owner.user.id, userReader.user.id]).where({ event: 'admin.organizations_searched' })).to.deep.equal([]);
  });

  it('writes exactly one audit row per call, naming the administrator, with the filters and not the search text', async () => {
    const admin = await adminUser(app);
    const tag = uniqueTag();
    await createOrganization(app, await loggedInUser(app), { name: `${tag} Secret Name`, slug: tag });
    await search(admin.session.access_token, { name: `${tag} Secret`, deleted: false, limit: 5 });
    const rows = await app.db('audit_logs').where({ actor_id: admin.user.id });
    expect(rows.map((r) => r.event)).to.deep.equal(['admin.organizations_searched']);
    expect(rows[0].details).to.deep.equal({ terms: ['name'], filters: { deleted: false }, results: 1 });
    expect(JSON.stringify(rows[0])).to.not.include('Secret');
  });

  it('refuses a cursor that is not one of ours and an unknown parameter with 400 validation_failed', async () => {
    const admin = await adminUser(app);
    expectProblem(await search(admin.session.access_token, { cursor: 'bm90LWEtY3Vyc29y' }), 400, 'validation_failed');
    expectProblem(await search(admin.session.access_token, { slug: 'not a slug' }), 400, 'validation_failed');
    expectProblem(await search(admin.session.access_token, { deleted: 'maybe' as unknown as boolean }), 400, 'validation_failed');
    expectProblem(await sdk.searchOrganizations({ client: app.client }), 401, 'authentication_required');
  });
});
