import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import express from 'express';
import { decodeJwt } from 'jose';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import * as sdk from '../../../sdk/src/index.js';
import { projectRoot } from '../../../src/shared/spec.js';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { launchChromium } from '../../helpers/chromium.js';
import { buildSdk, run, viteBin } from '../../helpers/commands.js';
import { expectProblem, latestMessage, strongPassword, tokensOf, uniqueEmail, verifiedUser } from '../../helpers/flows.js';
import { listen } from '../../helpers/listen.js';
import { totpCodes } from '../../helpers/probes.js';

/** The newest screenshots of each run (git-ignored). */
const screenshots = path.join(projectRoot(), 'test-artifacts', 'spa');

interface Credentials {
  email: string;
  password: string;
}

/**
 * examples/spa built by Vite against the SDK package, served from its own origin, and driven in
 * a real headless Chromium against the test app (which allows that origin by CORS).
 */
describe('example single-page app (examples/spa) in headless Chromium', function () {
  this.timeout(60_000);
  let app: TestApp;
  let site: Awaited<ReturnType<typeof listen>>;
  let browser: Browser;
  let dist: string;
  const contexts: BrowserContext[] = [];
  const pageErrors: string[] = [];
  const totp = totpCodes(() => app);

  before(async function () {
    browser = (await launchChromium(this, 'the single-page app test'))!;
    // The SPA's origin first (Sésame must allow it), then Sésame, then the build that points at it.
    dist = mkdtempSync(path.join(tmpdir(), 'sesame-spa-'));
    const web = express();
    web.use(express.static(dist));
    web.use((_req, res) => res.sendFile(path.join(dist, 'index.html'))); // client-side routes (/verify-email)
    site = await listen(web);
    app = await startTestApp({ env: { CORS_ORIGINS: site.url, APP_URL: site.url } });
    buildSdk();
    const built = run(process.execPath, [viteBin, 'build', '--outDir', dist, '--emptyOutDir', '--logLevel', 'warn'], path.join(projectRoot(), 'examples/spa'), { VITE_SESAME_URL: app.url });
    expect(built.status, built.stdout + built.stderr).to.equal(0);
    mkdirSync(screenshots, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    await app?.close();
    await site?.close();
    if (dist) rmSync(dist, { recursive: true, force: true });
  });

  afterEach(async () => {
    await Promise.all(contexts.splice(0).map((c) => c.close()));
    const errors = pageErrors.splice(0);
    expect(errors, 'errors in the page').to.deep.equal([]);
  });

  /** A fresh browser profile (its own localStorage), or another tab of `context`. */
  async function tab(context?: BrowserContext): Promise<Page> {
    if (!context) {
      context = await browser.newContext();
      contexts.push(context);
    }
    const page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 401/.test(message.text())) pageErrors.push(message.text());
    });
    await page.goto(site.url);
    await page.locator('body[data-ready="true"]').waitFor();
    return page;
  }

  const shot = (page: Page, name: string) => page.screenshot({ path: path.join(screenshots, `${name}.png`), fullPage: true });
  const message = (page: Page, text: string) => page.getByTestId('message').filter({ hasText: text }).waitFor();
  const sessionRows = (page: Page) => page.getByTestId('session');
  const storedSession = (page: Page) => page.evaluate(() => JSON.parse(localStorage.getItem('sesame.session') ?? 'null') as { access_token: string } | null);

  async function signIn(page: Page, who: Credentials): Promise<void> {
    await page.getByTestId('signin-email').fill(who.email);
    await page.getByTestId('signin-password').fill(who.password);
    await page.getByTestId('signin-submit').click();
  }

  async function signedIn(page: Page, who: Credentials): Promise<void> {
    await page.getByTestId('who').filter({ hasText: who.email }).waitFor();
  }

  /** Reloads the sessions list and waits until it is shown again. */
  async function reloadSessions(page: Page): Promise<void> {
    await page.evaluate(() => delete document.querySelector<HTMLElement>('#sessions')!.dataset.loaded);
    await page.getByTestId('sessions-reload').click();
  }
  const sessionsShown = (page: Page) => page.locator('#sessions[data-loaded]').waitFor();

  it('signs up, verifies the email with the link from the dev outbox, and signs in', async () => {
    const page = await tab();
    const who = { email: uniqueEmail('spa'), password: strongPassword };
    await page.getByTestId('signup-first-name').fill('Ada');
    await page.getByTestId('signup-last-name').fill('Lovelace');
    await page.getByTestId('signup-email').fill(who.email);
    await page.getByTestId('signup-password').fill(who.password);
    await page.getByTestId('signup-terms').check();
    await page.getByTestId('signup-submit').click();
    await message(page, `open the link we sent to ${who.email}`);
    await shot(page, '1-signed-up');

    const email = await latestMessage(app, who.email);
    expect(email.template).to.equal('email_verification');
    expect(email.link).to.match(new RegExp(`^${site.url}/verify-email\\?token=`));
    await page.goto(email.link!);
    await message(page, 'Your email is verified');
    expect(page.url()).to.equal(`${site.url}/`); // the token left the address bar

    await signIn(page, who);
    await signedIn(page, who);
    await sessionsShown(page);
    expect(await sessionRows(page).count()).to.equal(1);
    expect(await sessionRows(page).first().getAttribute('data-current')).to.equal('true');
    await shot(page, '2-signed-in');
  });

  it('turns two-factor authentication on, then signs in with a TOTP code', async () => {
    const who = await verifiedUser(app);
    const page = await tab();
    await signIn(page, who);
    await signedIn(page, who);
    await page.getByTestId('mfa-enable').click();
    await page.getByTestId('mfa-secret').filter({ hasText: /^[A-Z2-7]+=*$/ }).waitFor();
    const secret = (await page.getByTestId('mfa-secret').textContent())!;
    expect(secret).to.match(/^[A-Z2-7]+=*$/);
    await page.getByTestId('mfa-confirm-code').fill(await totp.codeAt(secret));
    await page.getByTestId('mfa-confirm-submit').click();
    await page.getByTestId('mfa-state').filter({ hasText: 'on' }).waitFor();
    expect(await page.getByTestId('backup-codes').locator('li').count()).to.equal(10);
    await shot(page, '3-mfa-on');

    await page.getByTestId('signout').click();
    await message(page, 'You are signed out');
    await signIn(page, who);
    await page.getByTestId('mfa-code').waitFor();
    totp.nextStep(); // a code is never accepted twice: use the next step's
    await page.getByTestId('mfa-code').fill(await totp.codeAt(secret));
    await shot(page, '4-mfa-challenge');
    await page.getByTestId('mfa-submit').click();
    await signedIn(page, who);
    expect(decodeJwt((await storedSession(page))!.access_token).amr).to.deep.equal(['pwd', 'otp']);
  });

  it('lists the sessions, revokes another one, and signs out (both dead at Sésame)', async () => {
    const who = await verifiedUser(app);
    const tablet = tokensOf((await sdk.login({ client: app.client, body: { email: who.email, password: who.password }, headers: { 'user-agent': 'Tablet/1.0' } })).data);
    const page = await tab();
    await signIn(page, who);
    await signedIn(page, who);
    await sessionsShown(page);
    expect(await sessionRows(page).count()).to.equal(2);
    await shot(page, '5-sessions');

    await page.locator('[data-testid="session"][data-current="false"]').getByTestId('revoke').click();
    await page.locator('#sessions[data-loaded="1"]').waitFor();
    expectProblem(await sdk.getProfile({ client: app.client, auth: tablet.access_token }), 401, 'session_revoked');

    const { access_token } = (await storedSession(page))!;
    await page.getByTestId('signout').click();
    await message(page, 'You are signed out');
    expect(await storedSession(page)).to.equal(null);
    expectProblem(await sdk.getProfile({ client: app.client, auth: access_token }), 401, 'session_revoked');
    await shot(page, '6-signed-out');
  });

  it('a session revoked from another device signs the tab out', async () => {
    const who = await verifiedUser(app);
    const page = await tab();
    await signIn(page, who);
    await signedIn(page, who);
    const phone = tokensOf((await sdk.login({ client: app.client, body: { email: who.email, password: who.password } })).data);
    await sdk.revokeOtherSessions({ client: app.client, auth: phone.access_token });
    await reloadSessions(page);
    await message(page, 'Your session has ended');
    expect(await page.getByTestId('signin-submit').isVisible()).to.equal(true);
  });

  it('two tabs share the session: a sign-in shows in both, and after an expiry they refresh one at a time (Web Locks) without losing it', async () => {
    const context = await browser.newContext();
    contexts.push(context);
    const [a, b] = [await tab(context), await tab(context)];
    const who = await verifiedUser(app);
    await signIn(a, who);
    await signedIn(a, who);
    await signedIn(b, who); // told by the storage event
    expect(await b.evaluate(() => Boolean(navigator.locks))).to.equal(true);

    let inFlight = 0;
    let mostInFlight = 0;
    let refreshes = 0;
    const isRefresh = (r: { url(): string; method(): string }) => r.method() === 'POST' && new URL(r.url()).pathname === '/api/v1/auth/refresh';
    context.on('request', (r) => {
      if (!isRefresh(r)) return;
      refreshes++;
      mostInFlight = Math.max(mostInFlight, ++inFlight);
    });
    const done = (r: { url(): string; method(): string }) => void (isRefresh(r) && inFlight--);
    context.on('requestfinished', done);
    context.on('requestfailed', done);

    for (let round = 0; round < 2; round++) {
      // Past the access token's expiry at Sésame (and, in the second round, past the refresh grace window).
      app.clock.advance(31 * 60_000);
      await Promise.all([sessionsShown(a), sessionsShown(b)]);
      await Promise.all([reloadSessions(a), reloadSessions(b)]);
      await Promise.all([sessionsShown(a), sessionsShown(b)]);
      expect(await sessionRows(a).count()).to.equal(1);
      expect(await sessionRows(b).count()).to.equal(1);
    }
    expect(refreshes).to.be.greaterThan(0);
    expect(mostInFlight).to.equal(1);
    const { access_token } = (await storedSession(b))!;
    expect((await sdk.getProfile({ client: app.client, auth: access_token })).response?.status).to.equal(200);
    await shot(a, '7-tab-a');
    await shot(b, '7-tab-b');
  });
});
