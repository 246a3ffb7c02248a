import { expect } from 'chai';
import { startTestApp, type TestApp } from '../../helpers/app.js';

/** A frontend on the default APP_URL may call a development server without any CORS setting. */
describe('CORS for the frontend on APP_URL', () => {
  const preflight = (app: TestApp, origin: string) =>
    fetch(`${app.url}/api/v1/auth/login`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });

  it('outside production, allows APP_URL’s origin with no CORS_ORIGINS, and no other origin', async () => {
    const app = await startTestApp({ env: { CORS_ORIGINS: '', APP_URL: 'http://localhost:5173/app/' } });
    try {
      const allowed = await preflight(app, 'http://localhost:5173');
      expect(allowed.headers.get('access-control-allow-origin')).to.equal('http://localhost:5173');
      expect(allowed.headers.get('access-control-allow-credentials')).to.equal('true');
      const other = await preflight(app, 'http://evil.example');
      expect(other.headers.get('access-control-allow-origin')).to.equal(null);
    } finally {
      await app.close();
    }
  });

  it('in production, allows only CORS_ORIGINS', async () => {
    const app = await startTestApp({ env: { NODE_ENV: 'production', CORS_ORIGINS: 'https://app.example.com', APP_URL: 'http://localhost:5173', PUBLIC_URL: 'http://sesame.test' } });
    try {
      expect((await preflight(app, 'http://localhost:5173')).headers.get('access-control-allow-origin')).to.equal(null);
      expect((await preflight(app, 'https://app.example.com')).headers.get('access-control-allow-origin')).to.equal('https://app.example.com');
    } finally {
      await app.close();
    }
  });
});
