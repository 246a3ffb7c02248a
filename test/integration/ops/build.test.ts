import { existsSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'chai';
import { buildIfStale, projectRoot } from '../../helpers/processes.js';

describe('npm start builds only when a source changed (scripts/build.mjs --if-stale)', function () {
  this.timeout(60_000);

  it('does nothing when dist/ is current, and says what it does when a source changed', () => {
    buildIfStale();
    expect(buildIfStale(), 'nothing changed: silent, nothing rebuilt').to.equal('');

    const source = path.join(projectRoot, 'src', 'server.ts');
    const { atime } = statSync(source);
    utimesSync(source, atime, new Date());
    const output = buildIfStale();
    expect(output).to.contain('Building dist/ from the TypeScript sources (sources changed since the last build)');
    expect(output).to.match(/Built \d+ files into dist\/ in \d+ ms\./);
    for (const file of ['dist/src/main.cjs', 'dist/src/main.js', 'dist/src/cluster/workers.cjs', 'dist/openapi.json']) expect(existsSync(path.join(projectRoot, file)), file).to.equal(true);
    expect(buildIfStale()).to.equal('');
  });
});
