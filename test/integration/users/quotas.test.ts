import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, tokensOf } from '../../helpers/flows.js';
import type { AuditRow } from '../../helpers/probes.js';
import { adminUser, grantRoleDirectly } from '../../helpers/rbac.js';

const hourMs = 3600_000;
const dayMs = 24 * hourMs;

describe('quotas', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  type Who = Awaited<ReturnType<typeof loggedInUser>>;
  const list = (token: string, userId: string) => sdk.listQuotas({ client: app.client, auth: token, path: { user_id: userId } });
  const consume = (token: string, userId: string, body: sdk.QuotaConsumeRequest) => sdk.consumeQuota({ client: app.client, auth: token, path: { user_id: userId }, body });
  const renew = (token: string, userId: string, body: sdk.QuotaRenewRequest) => sdk.renewQuota({ client: app.client, auth: token, path: { user_id: userId }, body });

  /** A new access token at the current (moved) clock: the old one has expired. */
  async function signIn(who: Who): Promise<string> {
    const { data, error } = await sdk.login({ client: app.client, body: { email: who.body.email, password: who.body.password } });
    expect(error, JSON.stringify(error)).to.equal(undefined);
    return tokensOf(data).access_token;
  }

  async function quotaOf(token: string, userId: string, quotaType = 'quiz_plays'): Promise<sdk.Quota> {
    const { data, error } = await list(token, userId);
    expect(error, JSON.stringify(error)).to.equal(undefined);
    const quota = data!.items.find((q) => q.quota_type === quotaType);
    expect(quota, `no ${quotaType} quota`).to.not.equal(undefined);
    return quota!;
  }

  async function consumed(token: string, userId: string, body: sdk.QuotaConsumeRequest): Promise<sdk.Quota> {
    const { data, error } = await consume(token, userId, body);
    expect(error, JSON.stringify(error)).to.equal(undefined);
    return data!;
  }

  const usageOf = async (userId: string, quotaType = 'quiz_plays'): Promise<number> =>
    (await app.db('user_quotas').where({ user_id: userId, quota_type: quotaType }).first('current_usage')).current_usage;

  /** Moves the clock forward to `hour`:00 UTC of the day after tomorrow, so times of day are known. */
  function moveToHourOfDay(hour: number): Date {
    const now = app.clock.now();
    const at = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 2, hour));
    app.clock.set(at);
    return at;
  }

  /** A role of its own (priority between free and premium) defining one quota type for this test. */
  async function customQuota(definition: { max_allowed: number; period_type?: 'daily' | 'weekly' | 'monthly' | null }): Promise<string> {
    const suffix = randomUUID().replaceAll('-', '').slice(0, 12);
    const [role] = await app.db('roles').insert({ name: `quota_test_${suffix}`, priority: 20 }).returning('id');
    const quotaType = `burst_${suffix}`;
    await app.db('quota_definitions').insert({ role_id: role.id, quota_type: quotaType, max_allowed: definition.max_allowed, period_type: definition.period_type ?? null });
    return quotaType;
  }

  describe('listing', () => {
    it('a new account has the free role’s daily quiz_plays: 20, renewable by watching an ad, for the current UTC day', async () => {
      const at = moveToHourOfDay(15);
      const who = await loggedInUser(app);
      const { data, error, response } = await list(who.session.access_token, who.user.id);
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(response!.status).to.equal(200);
      expect(data!.next_cursor).to.equal(null);
      expect(data!.items).to.deep.equal([
        {
          quota_type: 'quiz_plays',
          max_allowed: 20,
          current_usage: 0,
          remaining: 20,
          period_type: 'daily',
          period_start: new Date(at.getTime() - 15 * hourMs).toISOString(),
          period_end: new Date(at.getTime() + 9 * hourMs).toISOString(),
          can_renew: true,
          renew_action: 'watch_ad',
          renewed_at: null,
        },
      ]);
    });

    it('lists every quota ordered by type', async () => {
      const who = await loggedInUser(app);
      const extra = await customQuota({ max_allowed: 3 });
      const role = await app.db('quota_definitions').where({ quota_type: extra }).first('role_id');
      await app.db('user_roles').insert({ user_id: who.user.id, role_id: role.role_id });
      const { data } = await list(who.session.access_token, who.user.id);
      expect(data!.items.map((q) => q.quota_type)).to.deep.equal([extra, 'quiz_plays']);
      expect(data!.items[0]).to.include({ max_allowed: 3, remaining: 3, period_type: null, period_start: null, can_renew: false });
    });

    it('another user’s quotas are 404 user_not_found without sesame:read:users, as for an unknown id', async () => {
      const owner = await loggedInUser(app);
      const stranger = await loggedInUser(app);
      expectProblem(await list(stranger.session.access_token, owner.user.id), 404, 'user_not_found');
      expectProblem(await list(stranger.session.access_token, randomUUID()), 404, 'user_not_found');
      expectProblem(await consume(stranger.session.access_token, owner.user.id, { quota_type: 'quiz_plays' }), 404, 'user_not_found');
      expect(await usageOf(owner.user.id)).to.equal(0);
    });

    it('an admin reads anyone’s quotas; an unknown or deleted user is 404 user_not_found', async () => {
      const admin = await adminUser(app);
      const owner = await loggedInUser(app);
      expect((await quotaOf(admin.session.access_token, owner.user.id)).max_allowed).to.equal(20);
      expectProblem(await list(admin.session.access_token, randomUUID()), 404, 'user_not_found');
      await app.db('users').where({ id: owner.user.id }).update({ deleted_at: app.clock.now() });
      expectProblem(await list(admin.session.access_token, owner.user.id), 404, 'user_not_found');
      expectProblem(await consume(admin.session.access_token, owner.user.id, { quota_type: 'quiz_plays' }), 404, 'user_not_found');
    });

    it('an expired premium grant falls back to the free limits on the next read, and consumption follows', async () => {
      moveToHourOfDay(10);
      const who = await loggedInUser(app);
      await grantRoleDirectly(app, who.user.id, 'premium', new Date(app.clock.now().getTime() + hourMs));
      const token = who.session.access_token;
      expect(await quotaOf(token, who.user.id)).to.include({ max_allowed: 1000, can_renew: false, renew_action: null, period_type: 'daily' });
      expect(await consumed(token, who.user.id, { quota_type: 'quiz_plays', amount: 30 })).to.include({ current_usage: 30, remaining: 970 });

      app.clock.advance(2 * hourMs);
      const later = await signIn(who);
      expect(await quotaOf(later, who.user.id)).to.include({ max_allowed: 20, current_usage: 30, remaining: 0, can_renew: true, renew_action: 'watch_ad', period_type: 'daily' });
      expectProblem(await consume(later, who.user.id, { quota_type: 'quiz_plays' }), 429, 'quota_exceeded');
      expect(await usageOf(who.user.id)).to.equal(30);
    });

    it('an expired premium grant also stops counting for a consume with no read before it', async () => {
      moveToHourOfDay(10);
      const who = await loggedInUser(app);
      await grantRoleDirectly(app, who.user.id, 'premium', new Date(app.clock.now().getTime() + hourMs));
      await consumed(who.session.access_token, who.user.id, { quota_type: 'quiz_plays', amount: 25 });
      app.clock.advance(2 * hourMs);
      expectProblem(await consume(await signIn(who), who.user.id, { quota_type: 'quiz_plays' }), 429, 'quota_exceeded');
      expect(await app.db('user_quotas').where({ user_id: who.user.id, quota_type: 'quiz_plays' }).first()).to.include({ max_allowed: 20, current_usage: 25 });
    });
  });

  describe('consuming', () => {
    it('consumes 1 by default, or the amount asked, and answers the quota after it', async () => {
      const who = await loggedInUser(app);
      const one = await consumed(who.session.access_token, who.user.id, { quota_type: 'quiz_plays' });
      expect(one).to.include({ quota_type: 'quiz_plays', max_allowed: 20, current_usage: 1, remaining: 19 });
      expect(await consumed(who.session.access_token, who.user.id, { quota_type: 'quiz_plays', amount: 4 })).to.include({ current_usage: 5, remaining: 15 });
      expect(await usageOf(who.user.id)).to.equal(5);
    });

    it('an amount larger than what remains consumes nothing (429 quota_exceeded, Retry-After until the UTC day ends)', async () => {
      moveToHourOfDay(22);
      const who = await loggedInUser(app);
      const token = who.session.access_token;
      await consumed(token, who.user.id, { quota_type: 'quiz_plays', amount: 15 });
      const refused = await consume(token, who.user.id, { quota_type: 'quiz_plays', amount: 6 });
      expectProblem(refused, 429, 'quota_exceeded');
      expect(refused.response!.headers.get('retry-after')).to.equal(String(2 * 3600));
      expect(await usageOf(who.user.id)).to.equal(15);
      expect(await consumed(token, who.user.id, { quota_type: 'quiz_plays', amount: 5 })).to.include({ current_usage: 20, remaining: 0 });
      expectProblem(await consume(token, who.user.id, { quota_type: 'quiz_plays' }), 429, 'quota_exceeded');
      expect(await usageOf(who.user.id)).to.equal(20);
    });

    it('more than the whole quota at once is refused without a Retry-After (waiting would not help)', async () => {
      const who = await loggedInUser(app);
      const refused = await consume(who.session.access_token, who.user.id, { quota_type: 'quiz_plays', amount: 21 });
      expectProblem(refused, 429, 'quota_exceeded');
      expect(refused.response!.headers.get('retry-after')).to.equal(null);
      expect(await usageOf(who.user.id)).to.equal(0);
    });

    it('a quota type the user does not have is 404 quota_not_found', async () => {
      const who = await loggedInUser(app);
      expectProblem(await consume(who.session.access_token, who.user.id, { quota_type: 'file_conversions' }), 404, 'quota_not_found');
    });

    it('someone with sesame:write:quotas consumes another user’s quota', async () => {
      const admin = await adminUser(app);
      const owner = await loggedInUser(app);
      expect(await consumed(admin.session.access_token, owner.user.id, { quota_type: 'quiz_plays', amount: 2 })).to.include({ current_usage: 2 });
      expect(await usageOf(owner.user.id)).to.equal(2);
    });

    it('200 concurrent consumes of a quota of 50 succeed exactly 50 times; the rest are 429 and the row ends at 50', async () => {
      const who = await loggedInUser(app);
      const quotaType = await customQuota({ max_allowed: 50 });
      const role = await app.db('quota_definitions').where({ quota_type: quotaType }).first('role_id');
      await app.db('user_roles').insert({ user_id: who.user.id, role_id: role.role_id });
      const token = who.session.access_token;

      const results = await Promise.all(Array.from({ length: 200 }, () => consume(token, who.user.id, { quota_type: quotaType })));
      const statuses = results.map((r) => r.response!.status);
      expect(statuses.filter((s) => s === 200)).to.have.length(50);
      expect(statuses.filter((s) => s === 429)).to.have.length(150);
      for (const r of results.filter((x) => x.response!.status === 429)) {
        expect((r.error as sdk.Problem).code).to.equal('quota_exceeded');
        expect(r.response!.headers.get('retry-after'), 'a quota with no period has no Retry-After').to.equal(null);
      }
      expect(results.flatMap((r) => (r.data ? [r.data.current_usage] : [])).sort((a, b) => a - b)).to.deep.equal(Array.from({ length: 50 }, (_, i) => i + 1));
      expect(await usageOf(who.user.id, quotaType)).to.equal(50);
    });

    it('concurrent consumes of different amounts never go over the limit either', async () => {
      const who = await loggedInUser(app);
      const quotaType = await customQuota({ max_allowed: 50, period_type: 'weekly' });
      const role = await app.db('quota_definitions').where({ quota_type: quotaType }).first('role_id');
      await app.db('user_roles').insert({ user_id: who.user.id, role_id: role.role_id });
      const amounts = Array.from({ length: 60 }, (_, i) => (i % 3) + 1);
      const results = await Promise.all(amounts.map((amount) => consume(who.session.access_token, who.user.id, { quota_type: quotaType, amount })));
      const granted = results.reduce((sum, r, i) => sum + (r.response!.status === 200 ? amounts[i]! : 0), 0);
      expect(results.every((r) => r.response!.status === 200 || r.response!.status === 429)).to.equal(true);
      expect(granted).to.be.at.most(50);
      expect(await usageOf(who.user.id, quotaType)).to.equal(granted);
    });
  });

  describe('periods', () => {
    it('a free user’s daily quiz_plays starts again at 0 on the next UTC day', async () => {
      const day1 = moveToHourOfDay(10);
      const who = await loggedInUser(app);
      await consumed(who.session.access_token, who.user.id, { quota_type: 'quiz_plays', amount: 20 });
      const exhausted = await consume(who.session.access_token, who.user.id, { quota_type: 'quiz_plays' });
      expectProblem(exhausted, 429, 'quota_exceeded');
      expect(exhausted.response!.headers.get('retry-after')).to.equal(String(14 * 3600));

      // Midnight UTC: the period has ended, and the consume itself rolls it over.
      const day2 = new Date(day1.getTime() + 14 * hourMs);
      app.clock.set(day2);
      const token = await signIn(who);
      expect(await consumed(token, who.user.id, { quota_type: 'quiz_plays' })).to.include({
        current_usage: 1,
        remaining: 19,
        period_start: day2.toISOString(),
        period_end: new Date(day2.getTime() + dayMs).toISOString(),
      });

      // A day later a read alone shows the new period reset.
      app.clock.set(new Date(day2.getTime() + dayMs + 5 * hourMs));
      expect(await quotaOf(await signIn(who), who.user.id)).to.include({
        current_usage: 0,
        remaining: 20,
        period_start: new Date(day2.getTime() + dayMs).toISOString(),
        period_end: new Date(day2.getTime() + 2 * dayMs).toISOString(),
      });
      expect(await usageOf(who.user.id)).to.equal(0);
    });

    it('before the period ends nothing is reset', async () => {
      const day1 = moveToHourOfDay(10);
      const who = await loggedInUser(app);
      await consumed(who.session.access_token, who.user.id, { quota_type: 'quiz_plays', amount: 20 });
      app.clock.set(new Date(day1.getTime() + 14 * hourMs - 1000));
      const token = await signIn(who);
      expect(await quotaOf(token, who.user.id)).to.include({ current_usage: 20, remaining: 0 });
      expectProblem(await consume(token, who.user.id, { quota_type: 'quiz_plays' }), 429, 'quota_exceeded');
    });
  });

  describe('renewing', () => {
    async function exhaustedFreeUser(): Promise<Who> {
      const who = await loggedInUser(app);
      await consumed(who.session.access_token, who.user.id, { quota_type: 'quiz_plays', amount: 20 });
      return who;
    }

    it('an admin renews with the quota’s action: usage back to 0, renewed_at set, audited in the same change', async () => {
      const admin = await adminUser(app);
      const owner = await exhaustedFreeUser();
      app.clock.advance(1000);
      const { data, error } = await renew(admin.session.access_token, owner.user.id, { quota_type: 'quiz_plays', renew_action: 'watch_ad', ad_id: 'ad-42' });
      expect(error, JSON.stringify(error)).to.equal(undefined);
      expect(data).to.include({ quota_type: 'quiz_plays', current_usage: 0, remaining: 20, renewed_at: app.clock.now().toISOString() });
      expect(await usageOf(owner.user.id)).to.equal(0);
      expect(await consumed(owner.session.access_token, owner.user.id, { quota_type: 'quiz_plays' })).to.include({ current_usage: 1 });

      const rows: Array<AuditRow & { actor_id: string | null }> = await app.db('audit_logs').where({ user_id: owner.user.id, event: 'quota.renewed' });
      expect(rows).to.have.length(1);
      expect(rows[0]!.actor_id).to.equal(admin.user.id);
      expect(rows[0]!.details).to.deep.equal({ quota_type: 'quiz_plays', renew_action: 'watch_ad', ad_id: 'ad-42' });
    });

    it('the user cannot renew their own quota: 403 permission_denied, nothing changes', async () => {
      const owner = await exhaustedFreeUser();
      expectProblem(await renew(owner.session.access_token, owner.user.id, { quota_type: 'quiz_plays', renew_action: 'watch_ad' }), 403, 'permission_denied');
      expect(await usageOf(owner.user.id)).to.equal(20);
      expect(await app.db('audit_logs').where({ user_id: owner.user.id, event: 'quota.renewed' })).to.deep.equal([]);
    });

    it('another action than the quota’s is 400 invalid_renew_action on /body/renew_action', async () => {
      const admin = await adminUser(app);
      const owner = await exhaustedFreeUser();
      const problem = expectProblem(await renew(admin.session.access_token, owner.user.id, { quota_type: 'quiz_plays', renew_action: 'share' }), 400, 'invalid_renew_action');
      expect(problem.errors?.map((e) => e.path)).to.deep.equal(['/body/renew_action']);
      expect(await usageOf(owner.user.id)).to.equal(20);
    });

    it('a premium quota is not renewable: 403 quota_not_renewable', async () => {
      const admin = await adminUser(app);
      const owner = await loggedInUser(app);
      await grantRoleDirectly(app, owner.user.id, 'premium');
      await consumed(owner.session.access_token, owner.user.id, { quota_type: 'quiz_plays', amount: 3 });
      expectProblem(await renew(admin.session.access_token, owner.user.id, { quota_type: 'quiz_plays', renew_action: 'watch_ad' }), 403, 'quota_not_renewable');
      expect(await usageOf(owner.user.id)).to.equal(3);
    });

    it('an unknown quota is 404 quota_not_found and an unknown user 404 user_not_found', async () => {
      const admin = await adminUser(app);
      const owner = await loggedInUser(app);
      expectProblem(await renew(admin.session.access_token, owner.user.id, { quota_type: 'file_conversions', renew_action: 'watch_ad' }), 404, 'quota_not_found');
      expectProblem(await renew(admin.session.access_token, randomUUID(), { quota_type: 'quiz_plays', renew_action: 'watch_ad' }), 404, 'user_not_found');
    });
  });

  describe('guests', () => {
    it('a guest starts with quiz_plays 5, with no period, renewed by watching an ad', async () => {
      const admin = await adminUser(app);
      const created = await sdk.createGuest({ client: app.client, body: { device_id: `device-${randomUUID()}`, locale: 'fr' } });
      expect(created.error, JSON.stringify(created.error)).to.equal(undefined);
      const guest = created.data!;
      const expected: sdk.Quota = {
        quota_type: 'quiz_plays',
        max_allowed: 5,
        current_usage: 0,
        remaining: 5,
        period_type: null,
        period_start: null,
        period_end: null,
        can_renew: true,
        renew_action: 'watch_ad',
        renewed_at: null,
      };
      expect(guest.quotas).to.deep.equal([expected]);
      expect(await quotaOf(guest.access_token, guest.user.id)).to.deep.equal(expected);

      await consumed(guest.access_token, guest.user.id, { quota_type: 'quiz_plays', amount: 5 });
      const refused = await consume(guest.access_token, guest.user.id, { quota_type: 'quiz_plays' });
      expectProblem(refused, 429, 'quota_exceeded');
      expect(refused.response!.headers.get('retry-after')).to.equal(null);

      // No period: days passing change nothing, only a renewal does.
      app.clock.advance(3 * dayMs);
      const refreshed = await sdk.refreshToken({ client: app.client, body: { refresh_token: guest.refresh_token } });
      expect(refreshed.error, JSON.stringify(refreshed.error)).to.equal(undefined);
      const later = refreshed.data!.access_token;
      expect(await quotaOf(later, guest.user.id)).to.include({ current_usage: 5, remaining: 0 });
      expectProblem(await renew(later, guest.user.id, { quota_type: 'quiz_plays', renew_action: 'watch_ad' }), 403, 'permission_denied');
      const renewed = await renew(await signIn(admin), guest.user.id, { quota_type: 'quiz_plays', renew_action: 'watch_ad', ad_id: 'ad-7' });
      expect(renewed.error, JSON.stringify(renewed.error)).to.equal(undefined);
      expect(renewed.data).to.include({ current_usage: 0, remaining: 5 });
      expect(await consumed(later, guest.user.id, { quota_type: 'quiz_plays' })).to.include({ current_usage: 1, remaining: 4 });
    });
  });
});
