import { expect } from 'chai';
import { decodeJwt } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, loggedInUser, strongPassword, tokensOf } from '../../helpers/flows.js';
import { phoneUser } from '../../helpers/phone.js';
import { totpCodes, type AuditRow } from '../../helpers/probes.js';

const pngSignature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const screenAgent = 'Mozilla/5.0 (Windows NT 10.0) Chrome/130';

describe('QR login (cross-device sign-in)', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const create = async (body: sdk.QrChallengeRequest = { device: { name: 'Office PC', type: 'web' } }) => {
    const { data, error, response } = await sdk.createQrChallenge({ client: app.client, body, headers: { 'user-agent': screenAgent } });
    expect(response?.status, JSON.stringify(error)).to.equal(201);
    return data!;
  };
  const poll = (challenge: sdk.QrChallenge) => sdk.pollQrChallenge({ client: app.client, auth: challenge.poll_token, path: { challenge_id: challenge.challenge_id }, headers: { 'user-agent': screenAgent } });
  const inspect = (auth: string, challenge: string) => sdk.inspectQrChallenge({ client: app.client, auth, body: { challenge } });
  const decide = (auth: string, challenge: string, approve: boolean) => sdk.decideQrLogin({ client: app.client, auth, body: { challenge, approve } });
  const nextPoll = () => app.clock.advance(2000);
  /** A signed-in user whose session is older than the challenges made after this. */
  const approver = async () => {
    const user = await loggedInUser(app, {}, { device: { name: 'Jean’s phone', type: 'ios' } });
    app.clock.advance(1000);
    return user;
  };

  it('pending → inspected → approved → the poll gets the tokens once: the approver’s account and actor type, its own device, amr ["mca"]', async () => {
    const { session, user } = await approver();
    const challenge = await create();
    expect(challenge.expires_in).to.equal(120);
    expect(challenge.interval).to.equal(2);
    expect(challenge.challenge).to.match(/^qrc_[A-Za-z0-9_-]{43}$/);
    expect(challenge.poll_token).to.match(/^qrp_[A-Za-z0-9_-]{43}$/);
    const png = Buffer.from(challenge.qr_code.slice('data:image/png;base64,'.length), 'base64');
    expect(png.subarray(0, 8).equals(pngSignature)).to.equal(true);
    const stored = await app.db('qr_challenges').where({ id: challenge.challenge_id }).first();
    expect(JSON.stringify(stored)).to.not.include(challenge.challenge).and.not.include(challenge.poll_token);

    expect((await poll(challenge)).data).to.deep.equal({ status: 'pending', interval: 2, expires_in: 120 });
    const details = await inspect(session.access_token, challenge.challenge);
    expect(details.data).to.deep.include({ challenge_id: challenge.challenge_id, same_ip: true, expires_in: 120 });
    expect(details.data!.requester).to.deep.equal({ ip: '127.0.0.1', user_agent: screenAgent, device_name: 'Office PC', device_type: 'web', created_at: app.clock.now().toISOString() });
    nextPoll();
    expect((await poll(challenge)).data!.status, 'inspected is still pending').to.equal('pending');

    expect((await decide(session.access_token, challenge.challenge, true)).data).to.deep.equal({ challenge_id: challenge.challenge_id, status: 'approved' });
    const { data } = await poll(challenge);
    expect(data!.status).to.equal('approved');
    const tokens = tokensOf(data!.login);
    expect(tokens.user.id).to.equal(user.id);
    const claims = decodeJwt(tokens.access_token);
    expect(claims).to.include({ sub: user.id, actor_type: 'citizen' });
    expect(claims.amr).to.deep.equal(['mca']);
    expect(claims.device_id).to.be.a('string').and.not.equal(decodeJwt(session.access_token).device_id);
    const sessions = (await sdk.listSessions({ client: app.client, auth: tokens.access_token })).data!.items;
    expect(sessions.find((s) => s.current)).to.include({ auth_method: 'qr', device_name: 'Office PC', user_agent: screenAgent, device_id: claims.device_id });
    const devices = (await sdk.listDevices({ client: app.client, auth: tokens.access_token })).data!.items;
    expect(devices.find((d) => d.current)).to.include({ name: 'Office PC', type: 'web', verified: true });

    // Once taken, never again: the next poll (and any later one) gets no tokens.
    expect((await poll(challenge)).response?.status, 'too soon').to.equal(429);
    nextPoll();
    expect((await poll(challenge)).data).to.deep.equal({ status: 'consumed' });
    expectProblem(await decide(session.access_token, challenge.challenge, true), 409, 'qr_challenge_used');

    const approved: AuditRow[] = await app.db('audit_logs').where({ user_id: user.id, event: 'qr.approved' });
    expect(approved).to.have.length(1);
    expect(approved[0]!.session_id).to.equal(decodeJwt(session.access_token).sid);
    expect(approved[0]!.details).to.deep.equal({ challenge_id: challenge.challenge_id, requester_ip: '127.0.0.1', requester_user_agent: screenAgent, requester_device: 'Office PC', actor_type: 'citizen' });
    const newDevice = (await sdk.listDevOutbox({ client: app.client, query: { to: user.email! } })).data!.items.filter((m) => m.template === 'new_device_sign_in');
    expect(newDevice, 'the owner is told of the new device').to.have.length(1);
  });

  it('20 parallel polls of an approved challenge: exactly one gets the tokens', async () => {
    const { session } = await approver();
    const challenge = await create();
    await inspect(session.access_token, challenge.challenge);
    await decide(session.access_token, challenge.challenge, true);
    const results = await Promise.all(Array.from({ length: 20 }, () => poll(challenge)));
    const delivered = results.filter((r) => r.data?.status === 'approved');
    expect(delivered).to.have.length(1);
    tokensOf(delivered[0]!.data!.login);
    for (const r of results.filter((x) => x !== delivered[0])) {
      expect(r.data?.login, 'no tokens for any other poll').to.equal(undefined);
      expect([200, 429]).to.include(r.response?.status);
      if (r.response?.status === 200) expect(r.data!.status).to.equal('consumed');
    }
    expect(await app.db('sessions').where({ auth_method: 'qr', user_id: decodeJwt(session.access_token).sub })).to.have.length(1);
  });

  it('refused: the poll says so and never signs in; audited as qr.refused', async () => {
    const { session, user } = await approver();
    const challenge = await create();
    await inspect(session.access_token, challenge.challenge);
    expect((await decide(session.access_token, challenge.challenge, false)).data!.status).to.equal('refused');
    expect((await poll(challenge)).data).to.deep.equal({ status: 'refused' });
    expectProblem(await decide(session.access_token, challenge.challenge, true), 409, 'qr_challenge_used');
    expect(await app.db('audit_logs').where({ user_id: user.id, event: 'qr.refused' })).to.have.length(1);
  });

  it('expires after 2 minutes: polls say expired, inspect and approval are refused, an approval not taken in time is lost', async () => {
    const { session } = await approver();
    const late = await create();
    const approvedLate = await create();
    await inspect(session.access_token, approvedLate.challenge);
    await decide(session.access_token, approvedLate.challenge, true);
    app.clock.advance(120_000);
    expect((await poll(late)).data).to.deep.equal({ status: 'expired' });
    expect((await poll(approvedLate)).data).to.deep.equal({ status: 'expired' });
    expectProblem(await inspect(session.access_token, late.challenge), 400, 'qr_challenge_expired');
    expectProblem(await decide(session.access_token, late.challenge, true), 400, 'qr_challenge_expired');
  });

  it('guests and sessions younger than the challenge cannot approve (403 qr_approval_not_allowed)', async () => {
    const guest = (await sdk.createGuest({ client: app.client, body: { device_id: 'guest-device' } })).data!;
    app.clock.advance(1000);
    const challenge = await create();
    expectProblem(await inspect(guest.access_token, challenge.challenge), 403, 'qr_approval_not_allowed');
    expectProblem(await decide(guest.access_token, challenge.challenge, true), 403, 'qr_approval_not_allowed');

    app.clock.advance(1000);
    const fresh = await loggedInUser(app);
    expectProblem(await inspect(fresh.session.access_token, challenge.challenge), 403, 'qr_approval_not_allowed');
    expectProblem(await decide(fresh.session.access_token, challenge.challenge, true), 403, 'qr_approval_not_allowed');
    expect((await poll(challenge)).data!.status).to.equal('pending');
  });

  it('only the session that inspected a challenge decides it, and only after inspecting it', async () => {
    const first = await approver();
    const second = await approver();
    const challenge = await create();
    expectProblem(await decide(first.session.access_token, challenge.challenge, true), 409, 'qr_inspection_required');
    expect((await inspect(first.session.access_token, challenge.challenge)).response?.status).to.equal(200);
    expect((await inspect(first.session.access_token, challenge.challenge)).response?.status, 'the same session may read it again').to.equal(200);
    expectProblem(await inspect(second.session.access_token, challenge.challenge), 409, 'qr_challenge_used');
    expectProblem(await decide(second.session.access_token, challenge.challenge, true), 409, 'qr_challenge_used');
    expect((await decide(first.session.access_token, challenge.challenge, true)).response?.status).to.equal(200);
  });

  it('revoking the approving session before the poll withholds the sign-in', async () => {
    const { session } = await approver();
    const challenge = await create();
    await inspect(session.access_token, challenge.challenge);
    await decide(session.access_token, challenge.challenge, true);
    await sdk.logout({ client: app.client, auth: session.access_token, body: {} });
    expectProblem(await poll(challenge), 401, 'session_revoked');
  });

  it('a poller faster than the interval gets 429 slow_down with Retry-After', async () => {
    const challenge = await create();
    expect((await poll(challenge)).response?.status).to.equal(200);
    const fast = await poll(challenge);
    expectProblem(fast, 429, 'slow_down');
    expect(fast.response!.headers.get('retry-after')).to.equal('2');
    app.clock.advance(1999);
    expectProblem(await poll(challenge), 429, 'slow_down');
    app.clock.advance(1);
    expect((await poll(challenge)).response?.status).to.equal(200);
  });

  it('the poll token is good for its own challenge only; an unknown challenge is 404', async () => {
    const a = await create();
    const b = await create();
    expectProblem(await sdk.pollQrChallenge({ client: app.client, auth: a.poll_token, path: { challenge_id: b.challenge_id } }), 404, 'qr_challenge_not_found');
    expectProblem(await sdk.pollQrChallenge({ client: app.client, auth: `qrp_${'A'.repeat(43)}`, path: { challenge_id: a.challenge_id } }), 401, 'invalid_token');
    expectProblem(await sdk.pollQrChallenge({ client: app.client, path: { challenge_id: a.challenge_id } }), 401, 'authentication_required');
    const { session } = await loggedInUser(app);
    expectProblem(await sdk.pollQrChallenge({ client: app.client, auth: session.access_token, path: { challenge_id: a.challenge_id } }), 401, 'invalid_token');
    expectProblem(await sdk.getProfile({ client: app.client, auth: a.poll_token }), 401, 'invalid_token');
    expectProblem(await inspect(session.access_token, `qrc_${'B'.repeat(43)}`), 404, 'qr_challenge_not_found');
  });

  it('a phone-only account approves too; with 2FA on, the new device still has to give the second factor', async () => {
    const { codeAt, nextStep } = totpCodes(() => app);
    const { session } = await phoneUser(app);
    const setup = (await sdk.enableTwoFactor({ client: app.client, auth: session.access_token })).data!;
    await sdk.confirmTwoFactor({ client: app.client, auth: session.access_token, body: { code: await codeAt(setup.secret) } });
    nextStep();
    const challenge = await create({ remember_me: false });
    await inspect(session.access_token, challenge.challenge);
    await decide(session.access_token, challenge.challenge, true);
    const { data } = await poll(challenge);
    expect(data!.status).to.equal('approved');
    expect(data!.login).to.include({ mfa_required: true });
    const verified = await sdk.verifyTwoFactor({ client: app.client, body: { mfa_token: (data!.login as sdk.MfaChallenge).mfa_token, code: await codeAt(setup.secret) } });
    expect(verified.error, JSON.stringify(verified.error)).to.equal(undefined);
    expect(decodeJwt(verified.data!.access_token).amr).to.deep.equal(['mca', 'otp']);
    const row = await app.db('sessions').where({ id: decodeJwt(verified.data!.access_token).sid }).first();
    expect(row.expires_at.getTime() - row.created_at.getTime(), 'remember_me: false').to.equal(86_400_000);
  });

  it('an actor type that does not allow qr cannot approve (403 auth_method_not_allowed)', async () => {
    const { session, user } = await approver();
    await app.db('user_actor_types').insert({ user_id: user.id, actor_type: 'agent' });
    const { data } = await sdk.login({ client: app.client, body: { email: user.email!, password: strongPassword, actor_type: 'agent' } });
    app.clock.advance(1000);
    const challenge = await create();
    expectProblem(await inspect(tokensOf(data).access_token, challenge.challenge), 403, 'auth_method_not_allowed');
    expect((await inspect(session.access_token, challenge.challenge)).response?.status, 'the citizen session can').to.equal(200);
  });
});
