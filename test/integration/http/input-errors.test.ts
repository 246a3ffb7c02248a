import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { maxFieldErrors } from '../../../src/shared/problem.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { expectProblem, registerBody } from '../../helpers/flows.js';

describe('input errors', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  it('lists every schema error of a request, not only the first', async () => {
    const body = { ...registerBody(), email: 'not-an-email', first_name: '', language: 'xx' } as unknown as sdk.RegisterRequest;
    const problem = expectProblem(await sdk.register({ client: app.client, body }), 400, 'validation_failed');
    const paths = problem.errors!.map((e) => e.path);
    expect(paths).to.include.members(['/body/email', '/body/first_name', '/body/language']);
    expect(problem.detail).to.equal('The request does not match the API contract.');
  });

  it(`lists at most ${maxFieldErrors} of them, and says how many there were`, async () => {
    const unknown = Object.fromEntries(Array.from({ length: maxFieldErrors + 5 }, (_, i) => [`unknown_${i}`, i]));
    const body = { ...registerBody(), ...unknown } as unknown as sdk.RegisterRequest;
    const problem = expectProblem(await sdk.register({ client: app.client, body }), 400, 'validation_failed');
    expect(problem.errors).to.have.length(maxFieldErrors);
    expect(problem.detail).to.equal(`The request does not match the API contract (${maxFieldErrors + 5} errors; the first ${maxFieldErrors} are listed).`);
  });
});
