import { expect } from 'chai';
import * as sdk from '../../../sdk/src/index.js';
import { type TestApp, useTestApp } from '../../helpers/app.js';
import { loggedInUser } from '../../helpers/flows.js';
import { statementsOf } from '../../helpers/statements.js';

/**
 * What GET /auth/profile costs (issue 17): the session's liveness read (skipped while its lease
 * in Redis holds, README "Sessions"), then one statement for the user with its actor types.
 */
describe('profile statements', () => {
  let app: TestApp;
  useTestApp((started) => (app = started));

  it('reads the user and its actor types in one statement, and the session only when its lease is not held', async () => {
    const { session, body } = await loggedInUser(app, {});
    const profile = () => sdk.getProfile({ client: app.client, auth: session.access_token });
    const first = await statementsOf(app.db, profile);
    expect(first.result.data?.email).to.equal(body.email);
    expect(first.statements).to.have.length(2);
    expect(first.statements[0]).to.match(/from "sessions"/);
    const leased = await statementsOf(app.db, profile);
    expect(leased.result.data).to.deep.equal(first.result.data);
    expect(leased.statements).to.have.length(1);
    expect(leased.statements[0]).to.match(/^select "users"\.\*, \(select .* from "actor_types"/);
  });
});
