import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config/config.js';

function configError(env: Record<string, string>): string {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return (err as Error).message;
  }
  return expect.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

const production = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/sesame', REDIS_URL: 'redis://cache:6379', KEY_ENCRYPTION_KEY: 'k'.repeat(32), PUBLIC_URL: 'https://auth.example.com' };

describe('configuration of external sign-in (OAUTH_*, OIDC_<ID>_*)', () => {
  it('offers no provider by default', () => {
    expect(loadConfig({}).oauth).to.deep.equal({ redirectUrls: [], google: undefined, github: undefined, oidc: [] });
  });

  it('Google and GitHub with their client id and secret, on their real endpoints by default', () => {
    const { oauth } = loadConfig({ OAUTH_GOOGLE_CLIENT_ID: 'g', OAUTH_GOOGLE_CLIENT_SECRET: 'gs', OAUTH_GITHUB_CLIENT_ID: 'h', OAUTH_GITHUB_CLIENT_SECRET: 'hs', OAUTH_REDIRECT_URLS: 'https://app.example.com/cb, https://m.example.com/cb' });
    expect(oauth.redirectUrls).to.deep.equal(['https://app.example.com/cb', 'https://m.example.com/cb']);
    expect(oauth.google).to.deep.include({ clientId: 'g', issuer: 'https://accounts.google.com', authorizationUrl: 'https://accounts.google.com/o/oauth2/v2/auth', profileUrl: 'https://openidconnect.googleapis.com/v1/userinfo' });
    expect(oauth.github).to.deep.include({ clientId: 'h', tokenUrl: 'https://github.com/login/oauth/access_token', emailsUrl: 'https://api.github.com/user/emails' });
  });

  it('a client id without its secret (or the reverse) names the missing variable', () => {
    expect(configError({ OAUTH_GOOGLE_CLIENT_ID: 'g' })).to.match(/OAUTH_GOOGLE_CLIENT_SECRET: required/);
    expect(configError({ OAUTH_GITHUB_CLIENT_SECRET: 's' })).to.match(/OAUTH_GITHUB_CLIENT_ID: required/);
  });

  it('generic OpenID Connect providers by id, with name, scopes and ACR values', () => {
    const { oauth } = loadConfig({
      OIDC_IDNUM_ISSUER: 'https://idnum.example.fr',
      OIDC_IDNUM_CLIENT_ID: 'c',
      OIDC_IDNUM_CLIENT_SECRET: 's',
      OIDC_IDNUM_NAME: 'IdNum',
      OIDC_FC_ISSUER: 'https://fc.example.fr/api/v2',
      OIDC_FC_CLIENT_ID: 'c2',
      OIDC_FC_CLIENT_SECRET: 's2',
      OIDC_FC_SCOPES: 'openid given_name family_name email',
      OIDC_FC_ACR_VALUES: 'eidas1',
    });
    expect(oauth.oidc.map((p) => [p.id, p.name, p.scopes, p.acrValues])).to.deep.equal([
      ['fc', 'fc', 'openid given_name family_name email', ['eidas1']],
      ['idnum', 'IdNum', 'openid email profile', undefined],
    ]);
  });

  it('refuses an OIDC setting without issuer, an unknown OIDC_ variable, a reserved id, scopes without openid, a bad decryption key', () => {
    expect(configError({ OIDC_X_CLIENT_ID: 'c' })).to.match(/OIDC_X_ISSUER: required/);
    expect(configError({ OIDC_X_ISSUER: 'https://x.example', OIDC_X_CLIENT_ID: 'c', OIDC_X_CLIENT_SECRET: 's', OIDC_X_COLOR: 'blue' })).to.match(/OIDC_X_COLOR: not a setting/);
    expect(configError({ OIDC_GOOGLE_ISSUER: 'https://x.example', OIDC_GOOGLE_CLIENT_ID: 'c', OIDC_GOOGLE_CLIENT_SECRET: 's' })).to.match(/reserved/);
    expect(configError({ OIDC_X_ISSUER: 'https://x.example', OIDC_X_CLIENT_ID: 'c', OIDC_X_CLIENT_SECRET: 's', OIDC_X_SCOPES: 'email' })).to.match(/OIDC_X_SCOPES: must include openid/);
    expect(configError({ OIDC_X_ISSUER: 'https://x.example', OIDC_X_CLIENT_ID: 'c', OIDC_X_CLIENT_SECRET: 's', OIDC_X_DECRYPTION_KEY: '{"kty":"RSA"}' })).to.match(/OIDC_X_DECRYPTION_KEY/);
  });

  it('http issuers and endpoints only on a loopback address and never in production', () => {
    expect(loadConfig({ OIDC_X_ISSUER: 'http://127.0.0.1:4000', OIDC_X_CLIENT_ID: 'c', OIDC_X_CLIENT_SECRET: 's' }).oauth.oidc[0]!.issuer).to.equal('http://127.0.0.1:4000');
    expect(configError({ OIDC_X_ISSUER: 'http://idp.example', OIDC_X_CLIENT_ID: 'c', OIDC_X_CLIENT_SECRET: 's' })).to.match(/OIDC_X_ISSUER: must be https/);
    expect(configError({ ...production, OIDC_X_ISSUER: 'http://127.0.0.1:4000', OIDC_X_CLIENT_ID: 'c', OIDC_X_CLIENT_SECRET: 's' })).to.match(/OIDC_X_ISSUER: must be https in production/);
    expect(configError({ ...production, OAUTH_GOOGLE_CLIENT_ID: 'g', OAUTH_GOOGLE_CLIENT_SECRET: 's', OAUTH_GOOGLE_TOKEN_URL: 'http://localhost:9/token' })).to.match(/OAUTH_GOOGLE_TOKEN_URL: must be https in production/);
  });

  it('redirect URLs must be absolute http(s) URLs; the Google userinfo path must end in /userinfo', () => {
    expect(configError({ OAUTH_REDIRECT_URLS: 'https://app.example.com/cb,/relative' })).to.match(/OAUTH_REDIRECT_URLS: '\/relative'/);
    expect(configError({ OAUTH_REDIRECT_URLS: 'https://app.example.com/cb#x' })).to.match(/OAUTH_REDIRECT_URLS/);
    expect(configError({ OAUTH_GOOGLE_CLIENT_ID: 'g', OAUTH_GOOGLE_CLIENT_SECRET: 's', OAUTH_GOOGLE_USERINFO_URL: 'https://x.example/me' })).to.match(/OAUTH_GOOGLE_USERINFO_URL: its path must end in \/userinfo/);
  });
});
