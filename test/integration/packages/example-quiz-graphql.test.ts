import { expect } from 'chai';
import { createQuizApp } from '../../../examples/quiz-graphql/src/app.js';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { loggedInUser, tokensOf } from '../../helpers/flows.js';
import { listen } from '../../helpers/listen.js';
import { grantRoleDirectly } from '../../helpers/rbac.js';

interface GraphQLAnswer {
  data?: Record<string, unknown> | null;
  errors?: Array<{ message: string; extensions?: { code?: string } }>;
}

/** examples/quiz-graphql started in-process in live mode, against the test app. */
describe('example GraphQL service (examples/quiz-graphql) protected by the server kit', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  const services: Array<Awaited<ReturnType<typeof listen>>> = [];
  const start = async (production: boolean) => {
    const service = await listen(createQuizApp({ sesame: { url: app.url, issuer: 'http://sesame.test', audience: 'sesame', live: true, clock: app.clock }, production }));
    services.push(service);
    return service.url;
  };
  let quiz: string;
  before(async () => {
    quiz = await start(false);
  });
  after(() => Promise.all(services.map((s) => s.close())));

  async function graphql(query: string, token?: string, url = quiz): Promise<{ status: number; body: GraphQLAnswer; response: Response }> {
    const response = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token && { authorization: `Bearer ${token}` }) },
      body: JSON.stringify({ query }),
    });
    return { status: response.status, body: (await response.json()) as GraphQLAnswer, response };
  }

  const codes = (body: GraphQLAnswer) => (body.errors ?? []).map((e) => e.extensions?.code);

  /** A signed-in user holding `premium`, with a token issued after the grant. */
  async function premiumUser() {
    const user = await loggedInUser(app);
    await grantRoleDirectly(app, user.user.id, 'premium');
    const { data } = await sdk.login({ client: app.client, body: { email: user.body.email, password: user.body.password } });
    return { ...user, session: tokensOf(data) };
  }

  it('refuses an anonymous query with 401 before parsing it (not even validation errors leak)', async () => {
    const anonymous = await graphql('{ quizzes { id } }');
    expect(anonymous.status).to.equal(401);
    expect(codes(anonymous.body)).to.deep.equal(['authentication_required']);
    expect(anonymous.response.headers.get('www-authenticate')).to.equal('Bearer realm="graphql"');
    const probing = await graphql('{ premiumQuizz { id } }');
    expect(probing.status).to.equal(401);
    expect(JSON.stringify(probing.body)).to.not.include('premiumQuiz');
    expect((await graphql('{ quizzes { id } }', 'forged.token.value')).status).to.equal(401);
  });

  it('serves quizzes to any signed-in user, with the caller from Sésame in the context', async () => {
    const { session, user } = await loggedInUser(app);
    const { status, body } = await graphql('{ me { id actorType plan organizationId } quizzes { id title premium } }', session.access_token);
    expect(status).to.equal(200);
    expect(body.errors).to.equal(undefined);
    expect(body.data!.me).to.deep.equal({ id: user.id, actorType: 'citizen', plan: 'free', organizationId: null });
    expect(body.data!.quizzes).to.deep.equal([
      { id: 'capitals', title: 'European capitals', premium: false },
      { id: 'rivers', title: 'Rivers of France', premium: false },
    ]);
  });

  it('refuses premiumQuiz to a free user (permission_denied) and serves it to a premium one', async () => {
    const free = await loggedInUser(app);
    const refused = await graphql('{ premiumQuiz { id } }', free.session.access_token);
    expect(refused.body.data).to.deep.equal({ premiumQuiz: null });
    expect(codes(refused.body)).to.deep.equal(['permission_denied']);

    const premium = await premiumUser();
    const served = await graphql('{ premiumQuiz { id title premium questions { text } } }', premium.session.access_token);
    expect(served.body.errors).to.equal(undefined);
    expect(served.body.data!.premiumQuiz).to.deep.include({ id: 'masters', premium: true });
  });

  it('the REST route next to it: requirePermission answers problem+json 403 to a free user, 200 to a premium one', async () => {
    const free = await loggedInUser(app);
    const refused = await fetch(`${quiz}/api/premium-quizzes`, { headers: { authorization: `Bearer ${free.session.access_token}` } });
    expect(refused.status).to.equal(403);
    expect(refused.headers.get('content-type')).to.match(/^application\/problem\+json/);
    expect(await refused.json()).to.include({ code: 'permission_denied' });
    const premium = await premiumUser();
    const served = await fetch(`${quiz}/api/premium-quizzes`, { headers: { authorization: `Bearer ${premium.session.access_token}` } });
    expect(served.status).to.equal(200);
    expect(await served.json()).to.deep.include({ served_to: premium.user.id });
  });

  it('refuses a revoked session at once (live mode), though its token has not expired', async () => {
    const { session } = await loggedInUser(app);
    expect((await graphql('{ quizzes { id } }', session.access_token)).status).to.equal(200);
    expect((await sdk.logout({ client: app.client, auth: session.access_token, body: { all_devices: false } })).response?.status).to.equal(204);
    const after = await graphql('{ quizzes { id } }', session.access_token);
    expect(after.status).to.equal(401);
    expect(codes(after.body)).to.deep.equal(['session_revoked']);
  });

  it('answers introspection to a signed-in caller outside production, and refuses it in production', async () => {
    const { session } = await loggedInUser(app);
    const introspection = '{ __schema { queryType { name } } }';
    const dev = await graphql(introspection, session.access_token);
    expect(dev.body.data).to.deep.equal({ __schema: { queryType: { name: 'Query' } } });
    const production = await start(true);
    const refused = await graphql(introspection, session.access_token, production);
    expect(refused.body.data ?? null).to.equal(null);
    expect(refused.body.errors![0]!.message).to.match(/introspection/i);
    expect((await graphql('{ quizzes { id } }', session.access_token, production)).body.errors).to.equal(undefined);
  });
});
