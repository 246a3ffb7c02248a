import { expect } from 'chai';
import { mkdtempSync, rmSync, statSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { loadConfig } from '../../../src/config/config.js';
import { openInfrastructure } from '../../../src/infra/infrastructure.js';
import { startServer } from '../../../src/server.js';
import * as sdk from '../../../sdk/src/index.js';
import { createClient } from '../../../sdk/src/client/index.js';
import { registerBody } from '../../helpers/flows.js';
import { freePort } from '../../helpers/processes.js';

describe('embedded defaults (no DATABASE_URL, no REDIS_URL, no KEY_ENCRYPTION_KEY)', function () {
  this.timeout(120_000);
  let dataDir: string;
  before(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'sesame-embedded-'));
    chmodSync(dataDir, 0o755); // the embedded server may run as another OS user (as root: postgres)
  });
  after(() => {
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('runs the service on an embedded PostgreSQL and the PostgreSQL fast-path store, and starts again on the same data', async () => {
    const env = { NODE_ENV: 'development', LOG_LEVEL: 'silent', DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), ARGON2_MEMORY_KIB: '1024', ARGON2_TIME_COST: '1' };
    const config = loadConfig(env);
    const logger = pino({ level: 'silent' });
    const body = registerBody();

    const first = await openInfrastructure(config, logger);
    try {
      expect(first.store.kind).to.equal('postgres');
      expect(statSync(path.join(dataDir, 'key-encryption.secret')).mode & 0o077).to.equal(0);
      const running = await startServer({ config, logger, ...first }, { host: '127.0.0.1', port: 0 });
      try {
        const client = createClient({ baseUrl: running.url });
        expect((await sdk.getReadiness({ client })).data).to.deep.equal({ status: 'ok', checks: { postgres: 'ok', fast_store: 'ok' } });
        expect((await sdk.register({ client, body })).response?.status).to.equal(201);
      } finally {
        await running.close();
      }
    } finally {
      await first.close();
    }

    const second = await openInfrastructure(config, logger);
    try {
      const user = await second.db('users').where({ email: body.email }).first();
      expect(user.status).to.equal('pending_verification');
      expect(second.keyEncryptionSecret).to.equal(first.keyEncryptionSecret);
    } finally {
      await second.close();
    }
  });
});
