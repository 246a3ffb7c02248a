import { expect } from 'chai';
import { decodeJwt, jwtVerify, createLocalJWKSet, type JSONWebKeySet } from 'jose';
import * as sdk from '../../../sdk/src/index.js';
import { useTestApp, type TestApp } from '../../helpers/app.js';

describe('PUBLIC_URL unset outside production: tokens name the address actually served', () => {
  let app: TestApp;
  useTestApp((a) => (app = a), { env: { PUBLIC_URL: '' } }); // empty counts as unset; the app listens on a random port

  it('iss is http://<host>:<port> of this server, not http://localhost:3000, and verifies against the JWKS', async () => {
    const { data } = await sdk.createGuest({ client: app.client });
    const token = data!.access_token;
    expect(decodeJwt(token).iss).to.equal(app.url);
    expect(app.url).not.to.equal('http://localhost:3000');
    const jwks = (await sdk.getJwks({ client: app.client })).data as JSONWebKeySet;
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: app.url, audience: 'sesame' });
    expect(payload.sub).to.equal(data!.user.id);
  });
});
