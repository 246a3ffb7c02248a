import { expect } from 'chai';
import { ConfigError } from '../../../src/config/config.js';
import { startTestApp } from '../../helpers/app.js';

async function startFailure(env: Record<string, string>): Promise<unknown> {
  try {
    const app = await startTestApp({ env });
    await app.close();
  } catch (err) {
    return err;
  }
  return undefined;
}

describe('start-up checks', () => {
  it('refuses to start, naming KEY_ENCRYPTION_KEY, when the signing keys were encrypted with another secret', async () => {
    const err = await startFailure({ KEY_ENCRYPTION_KEY: 'a-different-secret-than-the-one-used-before-0123' });
    expect(err).to.be.instanceOf(ConfigError);
    expect((err as Error).message).to.contain('KEY_ENCRYPTION_KEY');
  });

  it('refuses to start when DEFAULT_ACTOR_TYPE is not a self-signup actor type', async () => {
    for (const type of ['admin', 'no-such-type']) {
      const err = await startFailure({ DEFAULT_ACTOR_TYPE: type });
      expect(err).to.be.instanceOf(ConfigError);
      expect((err as Error).message).to.contain('DEFAULT_ACTOR_TYPE');
    }
  });
});
