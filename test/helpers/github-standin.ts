import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface GitHubTestUser {
  id: number;
  login: string;
  name?: string;
  emails: Array<{ email: string; primary: boolean; verified: boolean }>;
  /** A hostile or broken GitHub: `/user/emails` answers 200 with a body that is not JSON. */
  brokenEmails?: boolean;
}

export interface GitHubStandIn {
  url: string;
  /** Users by login; tests add and edit them. */
  users: Map<string, GitHubTestUser>;
  /** What GitHub's endpoints were asked, newest last (the headers and query of each request). */
  requests: Array<{ path: string; authorization?: string; query: string }>;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage): Promise<URLSearchParams> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}

/**
 * A local stand-in for GitHub's OAuth app endpoints, as passport-github2 uses them:
 * `/login/oauth/authorize` (the user approves with `?login=<login>`), `/login/oauth/access_token`
 * (checks the client, the redirect URI, single use of the code and its PKCE verifier; a refused
 * code is a 200 with `error`, as GitHub answers), `/user` and `/user/emails` (bearer token).
 */
export async function startGitHubStandIn(client: { clientId: string; clientSecret: string }): Promise<GitHubStandIn> {
  const users = new Map<string, GitHubTestUser>();
  const requests: GitHubStandIn['requests'] = [];
  const codes = new Map<string, { login: string; redirectUri: string; challenge: string }>();
  const tokens = new Map<string, string>();
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://github.test');
    requests.push({ path: url.pathname, authorization: req.headers.authorization, query: url.search });
    if (url.pathname === '/login/oauth/authorize') {
      const q = url.searchParams;
      if (q.get('client_id') !== client.clientId || !q.get('redirect_uri')) return json(res, 400, { error: 'bad client' });
      const login = q.get('login');
      if (!login) return void res.writeHead(200, { 'content-type': 'text/plain' }).end('test GitHub login page: add &login=<login>');
      const code = randomBytes(10).toString('hex');
      codes.set(code, { login, redirectUri: q.get('redirect_uri')!, challenge: q.get('code_challenge_method') === 'S256' ? q.get('code_challenge') ?? '' : '' });
      const back = new URL(q.get('redirect_uri')!);
      back.searchParams.set('code', code);
      if (q.get('state')) back.searchParams.set('state', q.get('state')!);
      return void res.writeHead(302, { location: back.href }).end();
    }
    if (url.pathname === '/login/oauth/access_token' && req.method === 'POST') {
      const body = await readBody(req);
      if (body.get('client_id') !== client.clientId || body.get('client_secret') !== client.clientSecret) return json(res, 200, { error: 'incorrect_client_credentials' });
      const grant = codes.get(body.get('code') ?? '');
      codes.delete(body.get('code') ?? '');
      const verifier = body.get('code_verifier') ?? '';
      const challengeOk = grant !== undefined && grant.challenge !== '' && createHash('sha256').update(verifier).digest('base64url') === grant.challenge;
      if (!grant || grant.redirectUri !== body.get('redirect_uri') || !challengeOk) return json(res, 200, { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.' });
      const token = `gho_${randomBytes(16).toString('hex')}`;
      tokens.set(token, grant.login);
      return json(res, 200, { access_token: token, token_type: 'bearer', scope: 'read:user,user:email' });
    }
    const token = /^(?:Bearer|token) (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const user = token ? users.get(tokens.get(token) ?? '') : undefined;
    if (!user) return json(res, 401, { message: 'Requires authentication' });
    if (url.pathname === '/user') return json(res, 200, { id: user.id, login: user.login, name: user.name ?? null, email: null, avatar_url: null });
    if (url.pathname === '/user/emails' && user.brokenEmails) return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"not json');
    if (url.pathname === '/user/emails') return json(res, 200, user.emails.map((e) => ({ ...e, visibility: e.primary ? 'private' : null })));
    return json(res, 404, { message: 'Not Found' });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    users,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
