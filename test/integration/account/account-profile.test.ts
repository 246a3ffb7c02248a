import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, latestMessage, loggedInUser } from '../../helpers/flows.js';

describe('profile update', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const patch = (accessToken: string, body: Record<string, unknown>) => sdk.updateProfile({ client: app.client, auth: accessToken, body: body as sdk.ProfileUpdateRequest });
  const profileOf = async (accessToken: string) => (await sdk.getProfile({ client: app.client, auth: accessToken })).data!;

  it('updates every editable field, returns the user and keeps the change', async () => {
    const { session, user } = await loggedInUser(app);
    app.clock.advance(5_000);
    const changes = {
      first_name: 'Marie',
      last_name: 'Curie',
      display_name: 'Marie C.',
      phone: '+33612345678',
      language: 'en',
      avatar_url: 'https://cdn.example.com/a/marie.png',
      consents: { analytics: true, marketing: true },
    } as const;
    const { data, response } = await patch(session.access_token, changes);
    expect(response?.status).to.equal(200);
    expect(data).to.deep.include({ ...changes, id: user.id, email: user.email, status: 'active', actor_types: ['citizen'] });
    expect(Date.parse(data!.updated_at) - Date.parse(user.updated_at)).to.be.at.least(5_000);
    expect(await profileOf(session.access_token)).to.deep.equal(data);
  });

  it('updates one field alone and leaves the others as they were', async () => {
    const { session, user } = await loggedInUser(app);
    const { data } = await patch(session.access_token, { display_name: 'JD' });
    expect(data).to.deep.include({ display_name: 'JD', first_name: user.first_name, last_name: user.last_name, phone: user.phone, language: user.language });
  });

  it('merges consents: only the given key changes', async () => {
    const { session } = await loggedInUser(app);
    await patch(session.access_token, { consents: { analytics: true, marketing: true } });
    const { data } = await patch(session.access_token, { consents: { marketing: false } });
    expect(data!.consents).to.deep.equal({ analytics: true, marketing: false });
    expect((await profileOf(session.access_token)).consents).to.deep.equal({ analytics: true, marketing: false });
  });

  it('clears display_name, phone and avatar_url with null', async () => {
    const { session, user } = await loggedInUser(app, { phone: '+240222123456' });
    await patch(session.access_token, { display_name: 'JD', avatar_url: 'https://cdn.example.com/jd.png' });
    const { data } = await patch(session.access_token, { display_name: null, phone: null, avatar_url: null });
    expect(data).to.include({ display_name: null, phone: null, avatar_url: null });
    const stored = await app.db('users').where({ id: user.id }).first();
    expect(stored).to.include({ display_name: null, phone: null, avatar_url: null });
  });

  it('sends the next email in the new language', async () => {
    const { session, body } = await loggedInUser(app, { language: 'fr' });
    await patch(session.access_token, { language: 'es' });
    await sdk.requestPasswordReset({ client: app.client, body: { email: body.email } });
    const message = await latestMessage(app, body.email);
    expect(message.template).to.equal('password_reset');
    expect(message.subject).to.equal('Restablezca su contraseña');
  });

  for (const [field, value] of [
    ['email', 'other@example.com'],
    ['password', 'Other-Pass-2026!'],
    ['role', 'admin'],
    ['status', 'active'],
    ['is_admin', true],
  ] as const) {
    it(`refuses ${field} with 400 field_not_editable and changes nothing`, async () => {
      const { session, user } = await loggedInUser(app);
      const before = await app.db('users').where({ id: user.id }).first();
      const problem = expectProblem(await patch(session.access_token, { first_name: 'Changed', [field]: value }), 400, 'field_not_editable');
      expect(problem.errors!.map((e) => e.path)).to.deep.equal([`/body/${field}`]);
      expect(await app.db('users').where({ id: user.id }).first()).to.deep.equal(before);
    });
  }

  it('refuses a phone number that is not E.164 with 400 validation_failed', async () => {
    const { session, user } = await loggedInUser(app);
    const problem = expectProblem(await patch(session.access_token, { phone: '0612345678' }), 400, 'validation_failed');
    expect(problem.errors!.map((e) => e.path)).to.deep.equal(['/body/phone']);
    expect((await app.db('users').where({ id: user.id }).first()).phone).to.equal(null);
  });

  it('refuses an empty body with 400 validation_failed', async () => {
    const { session } = await loggedInUser(app);
    expectProblem(await patch(session.access_token, {}), 400, 'validation_failed');
  });

  it('refuses a request without a token with 401', async () => {
    expectProblem(await sdk.updateProfile({ client: app.client, body: { first_name: 'Nobody' } }), 401, 'authentication_required');
  });
});
