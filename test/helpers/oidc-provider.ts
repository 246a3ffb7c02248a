import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK } from 'jose';
import Provider, { type Configuration, type KoaContextWithOIDC } from 'oidc-provider';

/** The claims an account of the test provider gives (changed by tests between sign-ins). */
export interface TestAccountClaims {
  email?: string;
  email_verified?: boolean | string;
  given_name?: string;
  family_name?: string;
  name?: string;
}

export interface TestClient {
  client_id: string;
  client_secret: string;
  redirect_uris: string[];
  /** Extra client metadata (encryption of ID tokens and userinfo). */
  metadata?: Record<string, unknown>;
}

export interface TestOidcProvider {
  issuer: string;
  /** Accounts by subject; tests add and edit them. */
  accounts: Map<string, TestAccountClaims>;
  provider: Provider;
  close(): Promise<void>;
}

/**
 * A real OpenID Connect provider (panva's oidc-provider) on a free loopback port: discovery,
 * PKCE, `iss` in authorization responses (RFC 9207), signed ID tokens, userinfo at `/userinfo`
 * (so it also stands in for Google with passport-google-oauth20). The login interaction is the
 * test's: `GET /interaction/<uid>?login=<subject>` signs that account in, and every client is
 * granted the scopes it asks for (no consent screen). `encryption` turns on encrypted ID tokens
 * and userinfo for clients that ask (FranceConnect+ style); `acr` is the ACR of every sign-in.
 */
export async function startTestOidcProvider(clients: TestClient[], options: { encryption?: boolean; acr?: string } = {}): Promise<TestOidcProvider> {
  const accounts = new Map<string, TestAccountClaims>();
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const rsa = await generateKeyPair('RS256', { extractable: true });
  const ec = await generateKeyPair('ES256', { extractable: true });
  const jwk = async (key: CryptoKey, alg: string): Promise<JWK> => ({ ...(await exportJWK(key)), alg, use: 'sig', kid: `${alg}-test` });

  const configuration: Configuration = {
    clients: clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      ...c.metadata,
    })),
    jwks: { keys: [await jwk(rsa.privateKey, 'RS256'), await jwk(ec.privateKey, 'ES256')] },
    cookies: { keys: ['test-provider-cookie-secret'] },
    // FranceConnect-style scopes name single claims (given_name, family_name).
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['given_name', 'family_name', 'name'], given_name: ['given_name'], family_name: ['family_name'] },
    features: { devInteractions: { enabled: false }, encryption: { enabled: options.encryption ?? false } },
    routes: { userinfo: '/userinfo' },
    acrValues: ['eidas1', 'eidas2'],
    interactions: { url: (_ctx: KoaContextWithOIDC, interaction) => `/interaction/${interaction.uid}` },
    async findAccount(_ctx, sub) {
      const claims = accounts.get(sub);
      if (!claims) return undefined;
      return { accountId: sub, claims: async () => ({ sub, ...claims }) };
    },
    async loadExistingGrant(ctx) {
      const { client, session } = ctx.oidc;
      if (!client || !session?.accountId) return undefined;
      const grantId = session.grantIdFor(client.clientId);
      if (grantId) return ctx.oidc.provider.Grant.find(grantId);
      const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: session.accountId });
      grant.addOIDCScope(String(ctx.oidc.params?.scope ?? 'openid'));
      await grant.save();
      return grant;
    },
  };
  const provider = new Provider(issuer, configuration);
  const handle = provider.callback();
  server.on('request', (req, res) => {
    const url = new URL(req.url ?? '/', issuer);
    const interaction = /^\/interaction\/([^/]+)$/.exec(url.pathname);
    if (!interaction) return void handle(req, res);
    const login = url.searchParams.get('login');
    if (!login) {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('test login page: add ?login=<subject>');
      return;
    }
    provider.interactionFinished(req, res, { login: { accountId: login, acr: options.acr } }, { mergeWithLastSubmission: false }).catch((err: unknown) => {
      res.writeHead(400, { 'content-type': 'text/plain' }).end(String(err));
    });
  });
  return {
    issuer,
    accounts,
    provider,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
