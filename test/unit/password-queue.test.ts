import { expect } from 'chai';
import { hashingStats, PasswordHasher } from '../../src/infra/passwords.js';

describe('password hashing queue (src/infra/passwords.ts)', () => {
  it('runs at most as many argon2 operations at once as the thread pool has threads, decoys included, and loses none', async () => {
    const hasher = new PasswordHasher({ memoryKiB: 1024, timeCost: 1 });
    const stored = await hasher.hash('Queue-Test-2026!');
    const { concurrency } = hashingStats();
    expect(concurrency).to.equal(Number(process.env.UV_THREADPOOL_SIZE) || 4);

    const work = Array.from({ length: 6 * concurrency }, (_, i) =>
      i % 3 === 0 ? hasher.verify(stored, 'Queue-Test-2026!') : i % 3 === 1 ? hasher.verifyDecoy('guess') : hasher.hash(`Password-${i}!`).then(Boolean),
    );
    expect(hashingStats().pending, 'the calls beyond the bound wait').to.be.greaterThan(0);
    const results = await Promise.all(work);
    expect(results.filter((r, i) => i % 3 === 0 && r === true).length).to.equal(2 * concurrency);
    expect(results.filter((r, i) => i % 3 === 1 && r === false).length).to.equal(2 * concurrency);
    const after = hashingStats();
    expect(after.peak, 'never more at once than the bound').to.be.at.most(concurrency);
    expect(after.peak, 'the bound was reached').to.equal(concurrency);
    expect(after).to.include({ active: 0, pending: 0 });
  });
});
