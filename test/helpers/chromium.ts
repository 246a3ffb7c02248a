import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/** Debian's Chromium (never a downloaded browser); CHROMIUM_BIN overrides. */
export const chromiumBin = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
/** Headless, and silent towards the network (this machine reaches no outside host). */
export const chromiumArgs = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/**
 * Launches headless Chromium for a browser suite; without it the suite is skipped with a hint
 * (outside CI) or fails (with CI=true, where .ci/run installs it).
 */
export async function launchChromium(suite: Mocha.Context, what: string): Promise<Browser | undefined> {
  if (!existsSync(chromiumBin)) {
    const hint = `Chromium is not installed at ${chromiumBin}: \`apt-get install chromium\` to run ${what}`;
    if (process.env.CI === 'true') throw new Error(hint);
    console.warn(`      (skipped: ${hint})`);
    suite.skip();
  }
  return chromium.launch({ executablePath: chromiumBin, args: chromiumArgs });
}
