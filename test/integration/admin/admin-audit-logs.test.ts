import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { parse } from 'csv-parse/sync';
import * as sdk from '../../../sdk/src/index.js';
import { recordAudit } from '../../../src/identity/audit-trail.js';
import { exportBatchSize } from '../../../src/modules/admin/audit-logs.service.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser } from '../../helpers/flows.js';
import { adminUser, userWithPermissions } from '../../helpers/rbac.js';

describe('admin: audit-log queries', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const list = (token: string, query: sdk.ListAuditLogsData['query']) => sdk.listAuditLogs({ client: app.client, auth: token, query });
  const exportCsv = (token: string, query: sdk.ListAuditLogsData['query']) =>
    sdk.listAuditLogs({ client: app.client, auth: token, query, headers: { accept: 'text/csv' }, parseAs: 'text' });

  /** `count` rows by a made-up actor on a made-up user, one a second from `start`, events alternating. */
  async function seedRows(count: number) {
    const actor = randomUUID();
    const user = randomUUID();
    const start = app.clock.now();
    const rows = Array.from({ length: count }, (_, i) => ({
      id: randomUUID(),
      actor_id: actor,
      user_id: user,
      event: i % 2 ? 'user.suspended' : 'user.reactivated',
      identifier: 'j***n@example.com',
      user_agent: i === 0 ? '=HYPERLINK("http://evil.example")' : 'Mozilla/5.0, "quoted"',
      details: JSON.stringify({ n: i }),
      created_at: new Date(start.getTime() + i * 1000),
    }));
    await app.db.batchInsert('audit_logs', rows, 500);
    return { actor, user, start, ids: rows.map((r) => r.id) };
  }

  it('pages by actor, newest first, over more rows than a page, and filters by user, event and time range', async () => {
    const admin = await adminUser(app);
    const { actor, user, start, ids } = await seedRows(25);
    const t = admin.session.access_token;
    const seen: string[] = [];
    let cursor: string | undefined;
    do {
      const { data, error } = await list(t, { actor_id: actor, limit: 10, ...(cursor ? { cursor } : {}) });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      seen.push(...data!.items.map((r) => r.id));
      cursor = data!.next_cursor ?? undefined;
    } while (cursor);
    expect(seen).to.deep.equal([...ids].reverse());

    const from = new Date(start.getTime() + 5_000).toISOString();
    const to = new Date(start.getTime() + 10_000).toISOString();
    const ranged = (await list(t, { user_id: user, event: 'user.suspended', from, to, limit: 100 })).data!.items;
    expect(ranged.map((r) => r.details.n)).to.deep.equal([9, 7, 5]);
    expect(ranged[0]).to.deep.include({ actor_id: actor, user_id: user, event: 'user.suspended', identifier: 'j***n@example.com' });
    expect((await list(t, { actor_id: actor, event: 'no.such_event' })).data!.items).to.deep.equal([]);
  });

  it('finds what an administrator did under an impersonation with both ids', async () => {
    const admin = await adminUser(app);
    const target = await loggedInUser(app);
    const imp = (await sdk.impersonateUser({ client: app.client, auth: admin.session.access_token, path: { user_id: target.user.id }, body: { reason: 'Support ticket 77' } })).data!;
    await sdk.getProfile({ client: app.client, auth: imp.access_token });
    const { data } = await list(admin.session.access_token, { actor_id: admin.user.id, user_id: target.user.id, limit: 100 });
    expect(data!.items.map((r) => r.event)).to.have.members(['impersonation.started', 'impersonation.request']);
  });

  it('exports every matching row as CSV, read in batches and streamed, with formula cells quoted', async () => {
    const admin = await adminUser(app);
    const count = exportBatchSize * 2 + 100;
    const { actor, ids } = await seedRows(count);
    const { data, error, response } = await exportCsv(admin.session.access_token, { actor_id: actor });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    expect(response?.headers.get('content-type')).to.equal('text/csv; charset=utf-8');
    expect(response?.headers.get('content-disposition')).to.equal('attachment; filename=audit-logs.csv');
    expect(response?.headers.get('cache-control')).to.equal('no-store');
    // Written as it is read: chunked, with no length known in advance.
    expect(response?.headers.get('transfer-encoding')).to.equal('chunked');
    expect(response?.headers.get('content-length')).to.equal(null);
    const records: Array<Record<string, string>> = parse(data as unknown as string, { columns: true });
    expect(records).to.have.length(count);
    expect(records.map((r) => r.id)).to.deep.equal([...ids].reverse());
    expect(Object.keys(records[0]!)).to.deep.equal(['id', 'created_at', 'event', 'user_id', 'actor_id', 'session_id', 'identifier', 'ip', 'user_agent', 'details']);
    const first = records[records.length - 1]!;
    expect(first.user_agent).to.equal(`'=HYPERLINK("http://evil.example")`);
    expect(first.session_id).to.equal('');
    expect(JSON.parse(first.details!)).to.deep.equal({ n: 0 });
    expect(records[0]!.user_agent).to.equal('Mozilla/5.0, "quoted"');
  });

  it('needs sesame:read:audit_logs (403 permission_denied, also for the export) and writes one audit row per query', async () => {
    const reader = await userWithPermissions(app, ['sesame:read:users']);
    expectProblem(await list(reader.session.access_token, {}), 403, 'permission_denied');
    const denied = await exportCsv(reader.session.access_token, {});
    expect(denied.response?.status).to.equal(403);
    expect(denied.response?.headers.get('content-type')).to.match(/^application\/problem\+json/);

    const auditor = await userWithPermissions(app, ['sesame:read:audit_logs']);
    await list(auditor.session.access_token, { event: 'login.failed', limit: 1 });
    await exportCsv(auditor.session.access_token, { actor_id: randomUUID() });
    const rows = await app.db('audit_logs').where({ actor_id: auditor.user.id }).orderBy('created_at');
    expect(rows.map((r) => [r.event, r.details.format])).to.have.deep.members([
      ['audit_logs.read', 'json'],
      ['audit_logs.read', 'csv'],
    ]);
    expect(rows.find((r) => r.details.format === 'json').details.filters).to.deep.equal({ event: 'login.failed' });
  });

  it('refuses an empty time range and a foreign cursor with 400 validation_failed, as JSON and as CSV', async () => {
    const admin = await adminUser(app);
    const at = app.clock.now().toISOString();
    expectProblem(await list(admin.session.access_token, { from: at, to: at }), 400, 'validation_failed');
    expectProblem(await list(admin.session.access_token, { cursor: 'Zm9v' }), 400, 'validation_failed');
    const csv = await exportCsv(admin.session.access_token, { cursor: 'Zm9v' });
    expect(csv.response?.status).to.equal(400);
    expect(await app.db('audit_logs').where({ actor_id: admin.user.id })).to.deep.equal([]);
  });

  it('records rows written through the audit trail with the request context as they are', async () => {
    const admin = await adminUser(app);
    const user = randomUUID();
    await recordAudit(app.db, app.clock, { event: 'user.updated', userId: user, context: { ip: '203.0.113.9', userAgent: 'curl/8' } });
    const [row] = (await list(admin.session.access_token, { user_id: user })).data!.items;
    expect(row).to.deep.include({ user_id: user, actor_id: null, ip: '203.0.113.9', user_agent: 'curl/8', event: 'user.updated' });
  });
});
