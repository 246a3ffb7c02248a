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

let keys: Promise<JWK[]> | undefined;
/** The test providers' signing keys (RS256 and ES256), made once per process: RSA key generation is slow. */
function signingKeys(): Promise<JWK[]> {
  keys ??= (async () => {
    const jwk = async (alg: 'RS256' | 'ES256'): Promise<JWK> => ({ ...(await exportJWK((await generateKeyPair(alg, { extractable: true })).privateKey)), alg, use: 'sig', kid: `${alg}-test` });
    return [await jwk('RS256'), await jwk('ES256')];
  })();
  return keys;
}

/** The provider's storage, in memory per provider (the library's default one warns on every start). */
function memoryAdapter() {
  const store = new Map<string, { payload: Record<string, unknown>; expiresAt: number }>();
  const live = (key: string) => {
    const entry = store.get(key);
    return entry && entry.expiresAt > Date.now() ? entry.payload : undefined;
  };
  return class MemoryAdapter {
    constructor(private readonly model: string) {}
    private key(id: string) {
      return `${this.model}:${id}`;
    }
    async upsert(id: string, payload: Record<string, unknown>, expiresIn: number) {
      store.set(this.key(id), { payload, expiresAt: Date.now() + expiresIn * 1000 });
    }
    async find(id: string) {
      return live(this.key(id));
    }
    async findByUid(uid: string) {
      for (const [key, entry] of store) if (key.startsWith(`${this.model}:`) && entry.payload.uid === uid) return live(key);
      return undefined;
    }
    async findByUserCode(userCode: string) {
      for (const [key, entry] of store) if (key.startsWith(`${this.model}:`) && entry.payload.userCode === userCode) return live(key);
      return undefined;
    }
    async consume(id: string) {
      const entry = store.get(this.key(id));
      if (entry) entry.payload.consumed = Math.floor(Date.now() / 1000);
    }
    async destroy(id: string) {
      store.delete(this.key(id));
    }
    async revokeByGrantId(grantId: string) {
      for (const [key, entry] of store) if (entry.payload.grantId === grantId) store.delete(key);
    }
  };
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

  const configuration: Configuration = {
    adapter: memoryAdapter() as unknown as Configuration['adapter'],
    ttl: { AccessToken: 600, AuthorizationCode: 60, IdToken: 600, Interaction: 600, Session: 3600, Grant: 3600 },
    clients: clients.map((c) => ({
      client_id: c.client_id,
      client_secret: c.client_secret,
      redirect_uris: c.redirect_uris,
      grant_types: ['authorization_code'],
      response_types: ['code'],
      token_endpoint_auth_method: 'client_secret_post',
      ...c.metadata,
    })),
    jwks: { keys: await signingKeys() },
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
