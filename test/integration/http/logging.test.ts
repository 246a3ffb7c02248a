import { Writable } from 'node:stream';
import { expect } from 'chai';
import pino from 'pino';
import * as sdk from '../../../sdk/src/index.js';
import { createDb } from '../../../src/infra/db.js';
import { useTestApp, type TestApp } from '../../helpers/app.js';
import { freePort } from '../../helpers/processes.js';

/** A pino logger at `info` whose lines are kept, parsed (a line that is not JSON fails the test). */
function capturingLogger() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const raw of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(raw) as Record<string, unknown>);
      done();
    },
  });
  return { lines, logger: pino({ level: 'info' }, stream) };
}

describe('logs: compact JSON lines', () => {
  const capture = capturingLogger();
  let app: TestApp;
  useTestApp((a) => (app = a), { logger: capture.logger });

  it('an access line names the request and the status, without the response headers', async () => {
    const id = 'access-line-check';
    await sdk.listActorTypes({ client: app.client, headers: { 'x-request-id': id, 'user-agent': 'x'.repeat(300) } });
    const line = capture.lines.find((l) => (l.req as { id?: string } | undefined)?.id === id)!;
    expect(line, 'the access line').to.not.equal(undefined);
    expect(line.res).to.deep.equal({ statusCode: 200 });
    expect(line.req).to.deep.equal({ id, method: 'GET', url: '/api/v1/actor-types' });
    expect(JSON.stringify(line).length).to.be.below(400);
  });

  it("the database client's own warnings (a refused connection, with its stack) are JSON log lines", async () => {
    const { lines, logger } = capturingLogger();
    const db = createDb(`postgres://nobody@127.0.0.1:${await freePort()}/none`, 1, logger);
    try {
      await db.raw('select 1').then(
        () => expect.fail('no server listens there'),
        () => undefined,
      );
    } finally {
      await db.destroy();
    }
    const warning = lines.find((l) => l.msg === 'database client warning');
    expect(warning, JSON.stringify(lines)).to.not.equal(undefined);
    expect(String(warning!.knex)).to.contain('Acquire connection error').and.contain('ECONNREFUSED');
  });
});
