import { expect } from 'chai';
import { availableParallelism } from 'node:os';
import { ConfigError, loadConfig, withListenAddress } from '../../src/config/config.js';
import { threadPoolSize } from '../../src/cluster/workers.cjs';

const productionBasics = {
  NODE_ENV: 'production',
  DATABASE_URL: 'postgres://sesame@db.internal:5432/sesame',
  REDIS_URL: 'redis://cache.internal:6379',
  KEY_ENCRYPTION_KEY: 'k'.repeat(32),
  PUBLIC_URL: 'https://auth.example.com',
};

/** The ConfigError thrown for `env` (fails the test when none is thrown). */
function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).to.be.instanceOf(ConfigError);
    return err as ConfigError;
  }
  expect.fail(`expected a ConfigError for ${JSON.stringify(env)}`);
}

/** The variables a ConfigError message names, one per line ("  NAME: reason"). */
function named(err: ConfigError): string[] {
  return [...err.message.matchAll(/^ {2}([A-Z0-9_]+):/gm)].map((m) => m[1]!);
}

describe('configuration (loadConfig)', () => {
  describe('defaults', () => {
    it('an empty environment gives a development configuration with safe defaults', () => {
      const c = loadConfig({});
      expect(c).to.include({
        NODE_ENV: 'development',
        HOST: '0.0.0.0',
        PORT: 3000,
        LOG_LEVEL: 'info',
        PUBLIC_URL: 'http://localhost:3000',
        JWT_ISSUER: 'http://localhost:3000',
        JWT_AUDIENCE: 'sesame',
        BODY_LIMIT: '100kb',
        REGISTER_REVEAL_EXISTING: false,
        DEFAULT_ACTOR_TYPE: 'citizen',
        REFRESH_GRACE_SECONDS: 10,
        ARGON2_MEMORY_KIB: 19_456,
        ARGON2_TIME_COST: 2,
        OUTBOX_MAX_ATTEMPTS: 8,
        VALIDATE_RESPONSES: true,
        trustProxy: false,
      });
      expect(c.CORS_ORIGINS).to.deep.equal([]);
      expect(c.DATABASE_URL).to.equal(undefined);
      expect(c.REDIS_URL).to.equal(undefined);
      expect(c.SMTP_URL).to.equal(undefined);
    });

    it('JWT_ISSUER defaults to PUBLIC_URL, and an explicit JWT_ISSUER wins', () => {
      expect(loadConfig({ PUBLIC_URL: 'https://auth.example.com' }).JWT_ISSUER).to.equal('https://auth.example.com');
      expect(loadConfig({ PUBLIC_URL: 'https://auth.example.com', JWT_ISSUER: 'urn:sesame' }).JWT_ISSUER).to.equal('urn:sesame');
    });

    it('reads numbers and booleans from strings', () => {
      const c = loadConfig({ PORT: '8080', REGISTER_REVEAL_EXISTING: '1', VALIDATE_RESPONSES: 'false', OUTBOX_POLL_MS: '250' });
      expect(c).to.include({ PORT: 8080, REGISTER_REVEAL_EXISTING: true, VALIDATE_RESPONSES: false, OUTBOX_POLL_MS: 250 });
    });
  });

  describe('invalid values name the variable', () => {
    it('a non-numeric PORT', () => {
      const err = configError({ PORT: 'http' });
      expect(named(err)).to.deep.equal(['PORT']);
      expect(err.message).to.match(/^Invalid configuration:/);
    });

    it('a PORT out of range', () => {
      expect(named(configError({ PORT: '70000' }))).to.deep.equal(['PORT']);
      expect(named(configError({ PORT: '-1' }))).to.deep.equal(['PORT']);
      expect(named(configError({ PORT: '80.5' }))).to.deep.equal(['PORT']);
    });

    it('an empty PORT is not read as port 0 (a random port): it is refused, or means the default', () => {
      let port: number;
      try {
        port = loadConfig({ PORT: '' }).PORT;
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        expect(named(err as ConfigError)).to.deep.equal(['PORT']);
        return;
      }
      expect(port).to.equal(3000);
    });

    it('sizes, proxies, origins and outbox bounds are checked at start', () => {
      expect(named(configError({ BODY_LIMIT: 'abc' }))).to.deep.equal(['BODY_LIMIT']);
      expect(named(configError({ TRUST_PROXY: 'not-an-ip' }))).to.deep.equal(['TRUST_PROXY']);
      expect(named(configError({ CORS_ORIGINS: 'https://ok.example,app.example.com/path' }))[0]).to.match(/^CORS_ORIGINS/);
      expect(named(configError({ OUTBOX_MAX_ATTEMPTS: '1000' }))).to.deep.equal(['OUTBOX_MAX_ATTEMPTS']);
      expect(loadConfig({ BODY_LIMIT: '1mb', TRUST_PROXY: 'loopback, 10.0.0.0/8', CORS_ORIGINS: 'https://app.example.com,*' })).to.include({ BODY_LIMIT: '1mb' });
    });

    it('an API key prefix is lower-case letters and digits ending with _ (default czo_)', () => {
      expect(loadConfig({}).API_KEY_PREFIX).to.equal('czo_');
      expect(loadConfig({ API_KEY_PREFIX: 'acme2_' }).API_KEY_PREFIX).to.equal('acme2_');
      for (const bad of ['czo', 'CZO_', '_czo_', 'a-b_', 'averyveryverylong_']) expect(named(configError({ API_KEY_PREFIX: bad })), bad).to.deep.equal(['API_KEY_PREFIX']);
      expect(loadConfig({}).RATE_LIMIT_API_KEY).to.deep.equal({ limit: 100, windowMs: 60_000 });
    });

    it('every bad variable at once', () => {
      const err = configError({ PORT: 'x', LOG_LEVEL: 'loud', REGISTER_REVEAL_EXISTING: 'yes', PUBLIC_URL: 'not a url' });
      expect(named(err)).to.have.members(['PORT', 'LOG_LEVEL', 'REGISTER_REVEAL_EXISTING', 'PUBLIC_URL']);
    });

    it('an unknown NODE_ENV', () => {
      expect(named(configError({ NODE_ENV: 'staging' }))).to.deep.equal(['NODE_ENV']);
    });

    it('a KEY_ENCRYPTION_KEY shorter than 32 characters', () => {
      expect(named(configError({ KEY_ENCRYPTION_KEY: 'k'.repeat(31) }))).to.deep.equal(['KEY_ENCRYPTION_KEY']);
      expect(loadConfig({ KEY_ENCRYPTION_KEY: 'k'.repeat(32) }).KEY_ENCRYPTION_KEY).to.equal('k'.repeat(32));
    });

    it('a DATABASE_URL that is not a URL', () => {
      expect(named(configError({ DATABASE_URL: 'db.internal/sesame' }))).to.deep.equal(['DATABASE_URL']);
    });

    it('an ARGON2_MEMORY_KIB below 1024 KiB', () => {
      expect(named(configError({ ARGON2_MEMORY_KIB: '512' }))).to.deep.equal(['ARGON2_MEMORY_KIB']);
    });
  });

  describe('production', () => {
    it('without DATABASE_URL, REDIS_URL, KEY_ENCRYPTION_KEY and PUBLIC_URL fails naming all four', () => {
      const err = configError({ NODE_ENV: 'production' });
      expect(named(err)).to.have.members(['DATABASE_URL', 'REDIS_URL', 'KEY_ENCRYPTION_KEY', 'PUBLIC_URL']);
      expect(err.message).to.include('required in production');
    });

    it('names only the one missing', () => {
      for (const missing of ['DATABASE_URL', 'REDIS_URL', 'KEY_ENCRYPTION_KEY', 'PUBLIC_URL'] as const) {
        const env: Record<string, string | undefined> = { ...productionBasics, [missing]: undefined };
        expect(named(configError(env)), missing).to.deep.equal([missing]);
      }
    });

    it('with all four starts, and does not validate responses by default', () => {
      const c = loadConfig(productionBasics);
      expect(c).to.include({ NODE_ENV: 'production', VALIDATE_RESPONSES: false });
      expect(loadConfig({ ...productionBasics, VALIDATE_RESPONSES: 'true' }).VALIDATE_RESPONSES).to.equal(true);
    });

    it('development and test do not require them', () => {
      expect(() => loadConfig({ NODE_ENV: 'development' })).to.not.throw();
      expect(() => loadConfig({ NODE_ENV: 'test' })).to.not.throw();
    });
  });

  describe('TRUST_PROXY', () => {
    const trust = (v: string) => loadConfig({ TRUST_PROXY: v }).trustProxy;

    it('true and false are booleans; empty is false', () => {
      expect(trust('true')).to.equal(true);
      expect(trust('false')).to.equal(false);
      expect(trust('')).to.equal(false);
    });

    it('a whole number is a hop count', () => {
      expect(trust('1')).to.equal(1);
      expect(trust('2')).to.equal(2);
    });

    it('anything else is an address list passed to Express as is', () => {
      expect(trust('loopback')).to.equal('loopback');
      expect(trust('10.0.0.0/8, 127.0.0.1')).to.equal('10.0.0.0/8, 127.0.0.1');
    });
  });

  describe('CORS_ORIGINS', () => {
    it('is a comma-separated list, trimmed, without empty entries', () => {
      expect(loadConfig({ CORS_ORIGINS: ' http://a.test ,http://b.test,, ' }).CORS_ORIGINS).to.deep.equal(['http://a.test', 'http://b.test']);
    });

    it('a single origin and the wildcard', () => {
      expect(loadConfig({ CORS_ORIGINS: 'http://app.sesame.test' }).CORS_ORIGINS).to.deep.equal(['http://app.sesame.test']);
      expect(loadConfig({ CORS_ORIGINS: '*' }).CORS_ORIGINS).to.deep.equal(['*']);
    });

    it('empty means no cross-origin access', () => {
      expect(loadConfig({ CORS_ORIGINS: '' }).CORS_ORIGINS).to.deep.equal([]);
    });
  });

  describe('PUBLIC_URL unset (outside production)', () => {
    it('follows PORT and HOST, and so does the default issuer', () => {
      expect(loadConfig({ PORT: '4000' })).to.include({ PUBLIC_URL: 'http://localhost:4000', JWT_ISSUER: 'http://localhost:4000' });
      expect(loadConfig({ PORT: '4000', HOST: '127.0.0.2' })).to.include({ PUBLIC_URL: 'http://127.0.0.2:4000' });
      expect(loadConfig({ PORT: '4000', HOST: '::1' }).PUBLIC_URL).to.equal('http://[::1]:4000');
      expect(loadConfig({ PORT: '4000', JWT_ISSUER: 'urn:sesame' })).to.include({ PUBLIC_URL: 'http://localhost:4000', JWT_ISSUER: 'urn:sesame' });
    });

    it('withListenAddress settles the port PORT=0 picked; a given PUBLIC_URL never moves', () => {
      expect(withListenAddress(loadConfig({ PORT: '0' }), '0.0.0.0', 41234)).to.include({ PUBLIC_URL: 'http://localhost:41234', JWT_ISSUER: 'http://localhost:41234' });
      expect(withListenAddress(loadConfig({ PORT: '0', PUBLIC_URL: 'https://auth.example.com' }), '0.0.0.0', 41234)).to.include({ PUBLIC_URL: 'https://auth.example.com', JWT_ISSUER: 'https://auth.example.com' });
    });
  });

  describe('WORKERS', () => {
    it('defaults to one per core in production and to 1 elsewhere; a given count wins', () => {
      expect(loadConfig({}).WORKERS).to.equal(1);
      expect(loadConfig(productionBasics).WORKERS).to.equal(availableParallelism());
      expect(loadConfig({ ...productionBasics, WORKERS: '3' }).WORKERS).to.equal(3);
      expect(named(configError({ WORKERS: '0' }))).to.deep.equal(['WORKERS']);
    });

    it('each worker gets a libuv pool of its share of the cores (at least one thread)', () => {
      expect(threadPoolSize(1)).to.equal(availableParallelism());
      expect(threadPoolSize(availableParallelism())).to.equal(1);
      expect(threadPoolSize(1000)).to.equal(1);
    });
  });
});
