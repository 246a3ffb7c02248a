import { isIP } from 'node:net';

/** An OAuth 2.0 provider Sésame drives through its passport strategy (README "Sign in with Google, GitHub or OpenID Connect"). */
export interface PassportProviderConfig {
  clientId: string;
  clientSecret: string;
  /** The issuer identifier: the identity key's issuer, and the `iss` an RFC 9207 authorization response must carry. */
  issuer: string;
  authorizationUrl: string;
  tokenUrl: string;
  /** Google: the userinfo endpoint; GitHub: `/user`. */
  profileUrl: string;
  /** GitHub only: `/user/emails`, where the verified flag of each address is. */
  emailsUrl?: string;
}

/** A generic OpenID Connect provider, found by issuer discovery. */
export interface OidcProviderConfig {
  /** Lower-case letters and digits: the `{provider}` of the routes, `oidc:<id>` as a sign-in method. */
  id: string;
  name: string;
  issuer: string;
  clientId: string;
  clientSecret: string;
  scopes: string;
  /** Asked with `acr_values`, and the ID token's `acr` must be one of them (FranceConnect `eidas1`). */
  acrValues?: string[];
  /** A private JWK (JSON) that decrypts encrypted ID tokens and userinfo (FranceConnect+). */
  decryptionKey?: Record<string, unknown>;
}

export interface OAuthConfig {
  /** Frontend URLs a sign-in may return to, matched exactly. */
  redirectUrls: string[];
  google?: PassportProviderConfig;
  github?: PassportProviderConfig;
  oidc: OidcProviderConfig[];
}

const oidcVariable = /^OIDC_([A-Z0-9]+)_(ISSUER|CLIENT_ID|CLIENT_SECRET|NAME|SCOPES|ACR_VALUES|DECRYPTION_KEY)$/;
const reservedIds = new Set(['google', 'github', 'providers', 'exchange']);

/** A provider URL: https, or outside production http on a loopback address (local test providers). */
function checkUrl(value: string, production: boolean): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be a URL';
  }
  if (url.protocol === 'https:') return undefined;
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::1';
  if (url.protocol === 'http:' && loopback && !production) return undefined;
  return production ? 'must be https in production' : 'must be https (or http on a loopback address outside production)';
}

/**
 * Reads the OAuth and OpenID Connect settings of the environment (README "Configuration"): a
 * provider without its client id and secret is not offered; one of the two without the other,
 * a bad URL, or an OIDC_<ID>_* variable without its issuer is an error naming the variable.
 */
export function parseOAuthConfig(env: Record<string, string>, production: boolean): { config: OAuthConfig; errors: string[] } {
  const errors: string[] = [];
  const url = (name: string, fallback: string): string => {
    const value = env[name] ?? fallback;
    const problem = checkUrl(value, production);
    if (problem) errors.push(`  ${name}: ${problem}`);
    return value;
  };
  const credentials = (prefix: string): { clientId: string; clientSecret: string } | undefined => {
    const id = env[`${prefix}_CLIENT_ID`];
    const secret = env[`${prefix}_CLIENT_SECRET`];
    if (!id && !secret) return undefined;
    if (!id || !secret) {
      errors.push(`  ${prefix}_${id ? 'CLIENT_SECRET' : 'CLIENT_ID'}: required with ${prefix}_${id ? 'CLIENT_ID' : 'CLIENT_SECRET'}`);
      return undefined;
    }
    return { clientId: id, clientSecret: secret };
  };

  const redirectUrls = (env.OAUTH_REDIRECT_URLS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const entry of redirectUrls) {
    try {
      const parsed = new URL(entry);
      if (!['http:', 'https:'].includes(parsed.protocol) || parsed.hash || parsed.username || parsed.password) throw new Error('not a plain URL');
    } catch {
      errors.push(`  OAUTH_REDIRECT_URLS: '${entry}' must be an absolute http(s) URL without fragment or credentials`);
    }
  }

  const googleCredentials = credentials('OAUTH_GOOGLE');
  const google = googleCredentials && {
    ...googleCredentials,
    issuer: env.OAUTH_GOOGLE_ISSUER ?? 'https://accounts.google.com',
    authorizationUrl: url('OAUTH_GOOGLE_AUTHORIZATION_URL', 'https://accounts.google.com/o/oauth2/v2/auth'),
    tokenUrl: url('OAUTH_GOOGLE_TOKEN_URL', 'https://oauth2.googleapis.com/token'),
    profileUrl: url('OAUTH_GOOGLE_USERINFO_URL', 'https://openidconnect.googleapis.com/v1/userinfo'),
  };
  if (google && !/\/userinfo$/.test(new URL(google.profileUrl, 'https://x').pathname)) {
    // passport-google-oauth20 reads `email_verified` only from a path ending in /userinfo.
    errors.push('  OAUTH_GOOGLE_USERINFO_URL: its path must end in /userinfo (an OpenID Connect userinfo endpoint)');
  }
  const githubCredentials = credentials('OAUTH_GITHUB');
  const github = githubCredentials && {
    ...githubCredentials,
    issuer: env.OAUTH_GITHUB_ISSUER ?? 'https://github.com/login/oauth',
    authorizationUrl: url('OAUTH_GITHUB_AUTHORIZATION_URL', 'https://github.com/login/oauth/authorize'),
    tokenUrl: url('OAUTH_GITHUB_TOKEN_URL', 'https://github.com/login/oauth/access_token'),
    profileUrl: url('OAUTH_GITHUB_USER_URL', 'https://api.github.com/user'),
    emailsUrl: url('OAUTH_GITHUB_EMAILS_URL', 'https://api.github.com/user/emails'),
  };

  const ids = new Set<string>();
  for (const name of Object.keys(env)) {
    if (!name.startsWith('OIDC_')) continue;
    const match = oidcVariable.exec(name);
    if (!match) {
      errors.push(`  ${name}: not a setting (OIDC_<ID>_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _NAME, _SCOPES, _ACR_VALUES, _DECRYPTION_KEY)`);
      continue;
    }
    ids.add(match[1]!);
  }
  const oidc: OidcProviderConfig[] = [];
  for (const upper of [...ids].sort()) {
    const prefix = `OIDC_${upper}`;
    const id = upper.toLowerCase();
    if (reservedIds.has(id)) {
      errors.push(`  ${prefix}_ISSUER: '${id}' is reserved; pick another provider id`);
      continue;
    }
    if (!env[`${prefix}_ISSUER`]) {
      errors.push(`  ${prefix}_ISSUER: required with the other ${prefix}_* settings`);
      continue;
    }
    const issuer = url(`${prefix}_ISSUER`, '');
    const creds = credentials(prefix);
    if (!creds) {
      if (!env[`${prefix}_CLIENT_ID`] && !env[`${prefix}_CLIENT_SECRET`]) errors.push(`  ${prefix}_CLIENT_ID: required with ${prefix}_ISSUER`);
      continue;
    }
    const scopes = env[`${prefix}_SCOPES`] ?? 'openid email profile';
    if (!scopes.split(/\s+/).includes('openid')) errors.push(`  ${prefix}_SCOPES: must include openid`);
    let decryptionKey: Record<string, unknown> | undefined;
    const rawKey = env[`${prefix}_DECRYPTION_KEY`];
    if (rawKey) {
      try {
        decryptionKey = JSON.parse(rawKey) as Record<string, unknown>;
        if (typeof decryptionKey !== 'object' || decryptionKey === null || typeof decryptionKey.kty !== 'string' || !('d' in decryptionKey)) throw new Error('not a private JWK');
      } catch {
        errors.push(`  ${prefix}_DECRYPTION_KEY: must be a private JWK in JSON (RSA or EC, with "d")`);
      }
    }
    const acr = env[`${prefix}_ACR_VALUES`]?.split(/\s+/).filter(Boolean);
    oidc.push({
      id,
      name: env[`${prefix}_NAME`] ?? id,
      issuer,
      ...creds,
      scopes,
      acrValues: acr?.length ? acr : undefined,
      decryptionKey,
    });
  }
  return { config: { redirectUrls, google, github, oidc }, errors };
}
