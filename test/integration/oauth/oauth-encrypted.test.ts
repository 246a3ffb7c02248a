import { randomUUID } from 'node:crypto';
import { expect } from 'chai';
import { exportJWK, generateKeyPair } from 'jose';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { createCustomActorType } from '../../helpers/actor-types.js';
import { TestBrowser } from '../../helpers/browser.js';
import { tokensOf } from '../../helpers/flows.js';
import { frontendCallback, publicUrl, signInAtProvider, verifyWithJwks } from '../../helpers/oauth.js';
import { startTestOidcProvider, type TestOidcProvider } from '../../helpers/oidc-provider.js';
import { adminUser } from '../../helpers/rbac.js';
import * as sdk from '../../../sdk/src/index.js';

/**
 * A FranceConnect+-like provider: ID tokens signed ES256 then encrypted (RSA-OAEP-256, A256GCM)
 * to the client's key, userinfo signed and encrypted the same way, names only at userinfo, and
 * an ACR (`eidas1`) that the configuration requires.
 */
describe('external sign-in with encrypted ID tokens and userinfo, and required ACR values', () => {
  let provider: TestOidcProvider;
  let app: TestApp;
  let actorType: string;
  const created: string[] = [];

  before(async function () {
    this.timeout(60_000);
    const keys = await generateKeyPair('RSA-OAEP-256', { extractable: true });
    const publicJwk = { ...(await exportJWK(keys.publicKey)), alg: 'RSA-OAEP-256', use: 'enc', kid: 'sesame-enc-1' };
    const privateJwk = { ...(await exportJWK(keys.privateKey)), alg: 'RSA-OAEP-256', use: 'enc', kid: 'sesame-enc-1' };
    const encrypted = {
      id_token_signed_response_alg: 'ES256',
      id_token_encrypted_response_alg: 'RSA-OAEP-256',
      id_token_encrypted_response_enc: 'A256GCM',
      userinfo_signed_response_alg: 'ES256',
      userinfo_encrypted_response_alg: 'RSA-OAEP-256',
      userinfo_encrypted_response_enc: 'A256GCM',
      jwks: { keys: [publicJwk] },
    };
    const callback = (id: string) => `${publicUrl}/api/v1/auth/oauth/${id}/callback`;
    provider = await startTestOidcProvider(
      [
        { client_id: 'fcp-client', client_secret: 'fcp-secret-0123456789abcdef', redirect_uris: [callback('fcp')], metadata: encrypted },
        { client_id: 'nokey-client', client_secret: 'nokey-secret-0123456789abcdef', redirect_uris: [callback('nokey')], metadata: encrypted },
        { client_id: 'strict-client', client_secret: 'strict-secret-0123456789abcdef', redirect_uris: [callback('strict')], metadata: encrypted },
      ],
      { encryption: true, acr: 'eidas1' },
    );
    app = await startTestApp({
      env: {
        OAUTH_REDIRECT_URLS: frontendCallback,
        OIDC_FCP_ISSUER: provider.issuer,
        OIDC_FCP_CLIENT_ID: 'fcp-client',
        OIDC_FCP_CLIENT_SECRET: 'fcp-secret-0123456789abcdef',
        OIDC_FCP_SCOPES: 'openid given_name family_name email',
        OIDC_FCP_ACR_VALUES: 'eidas1',
        OIDC_FCP_DECRYPTION_KEY: JSON.stringify(privateJwk),
        OIDC_NOKEY_ISSUER: provider.issuer,
        OIDC_NOKEY_CLIENT_ID: 'nokey-client',
        OIDC_NOKEY_CLIENT_SECRET: 'nokey-secret-0123456789abcdef',
        OIDC_STRICT_ISSUER: provider.issuer,
        OIDC_STRICT_CLIENT_ID: 'strict-client',
        OIDC_STRICT_CLIENT_SECRET: 'strict-secret-0123456789abcdef',
        OIDC_STRICT_ACR_VALUES: 'eidas2',
        OIDC_STRICT_DECRYPTION_KEY: JSON.stringify(privateJwk),
      },
    });
    const admin = await adminUser(app);
    actorType = await createCustomActorType(app, admin.session.access_token, created, { allowed_methods: ['oidc:fcp', 'oidc:strict', 'oidc:nokey'], self_signup: true });
  });

  after(async () => {
    if (app) {
      await app.db('sessions').whereIn('actor_type', created).delete();
      await app.db('user_actor_types').whereIn('actor_type', created).delete();
      await app.db('actor_types').whereIn('name', created).delete();
      await app.close();
    }
    await provider?.close();
  });

  it('signs in: the encrypted ID token and userinfo are decrypted and verified, the names come from userinfo', async () => {
    const login = `fc-${randomUUID()}`;
    provider.accounts.set(login, { given_name: 'Angela Claire Louise', family_name: 'DUBOIS', email: `${login}@example.fr`, email_verified: false });
    const back = await signInAtProvider(new TestBrowser({ [publicUrl]: app.url }), 'fcp', login, { actor_type: actorType });
    expect(back.get('error')).to.equal(null);
    const answer = tokensOf((await sdk.exchangeOAuthCode({ client: app.client, body: { code: back.get('code')! } })).data);
    expect(answer.user).to.deep.include({ first_name: 'Angela Claire Louise', last_name: 'DUBOIS', email: null });
    expect((await verifyWithJwks(app, answer.access_token)).amr).to.deep.equal(['ext', 'fcp']);
  });

  it('without OIDC_<ID>_DECRYPTION_KEY the encrypted ID token cannot be read, and the sign-in is refused', async () => {
    const login = `fc-${randomUUID()}`;
    provider.accounts.set(login, { given_name: 'Jean', family_name: 'MARTIN' });
    const back = await signInAtProvider(new TestBrowser({ [publicUrl]: app.url }), 'nokey', login, { actor_type: actorType });
    expect(back.get('error')).to.equal('oauth_callback_invalid');
  });

  it('an ID token whose acr is not one of OIDC_<ID>_ACR_VALUES is refused', async () => {
    const login = `fc-${randomUUID()}`;
    provider.accounts.set(login, { given_name: 'Jean', family_name: 'MARTIN' });
    const back = await signInAtProvider(new TestBrowser({ [publicUrl]: app.url }), 'strict', login, { actor_type: actorType });
    expect(back.get('error')).to.equal('oauth_callback_invalid');
  });
});
