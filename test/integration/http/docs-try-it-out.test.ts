import { expect } from 'chai';
import type { Browser } from 'playwright-core';
import { startTestApp, type TestApp } from '../../helpers/app.js';
import { launchChromium } from '../../helpers/chromium.js';

/** The interactive reference works wherever /docs is served: here on a random port, not :3000. */
describe('/docs "Try it out" in headless Chromium', function () {
  this.timeout(60_000);
  let app: TestApp;
  let browser: Browser | undefined;

  before(async function () {
    browser = await launchChromium(this, 'the /docs browser test');
    app = await startTestApp();
  });

  after(async () => {
    await browser?.close();
    await app?.close();
  });

  it('executes an operation against the server that served the page, within its CSP', async () => {
    const page = await browser!.newPage();
    const blocked: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy|Refused to connect/i.test(m.text())) blocked.push(m.text());
    });
    const calls: string[] = [];
    page.on('request', (r) => calls.push(r.url()));
    await page.goto(`${app.url}/docs`);
    const operation = page.locator('#operations-actor-types-listActorTypes');
    await operation.locator('.opblock-summary').click();
    await operation.getByRole('button', { name: 'Try it out' }).click();
    await operation.getByRole('button', { name: 'Execute' }).click();
    const status = operation.locator('.live-responses-table tr.response .response-col_status').first();
    await status.waitFor();
    expect((await status.innerText()).trim()).to.match(/^200\b/);
    expect(calls).to.include(`${app.url}/api/v1/actor-types`);
    expect(blocked).to.deep.equal([]);
  });
});
