import { expect } from 'chai';

/** One answer of a request the browser made (redirects are not followed by fetch: the browser follows them). */
export interface BrowserStep {
  url: string;
  status: number;
  location?: string;
  body: string;
}

/**
 * A browser for sign-in flows driven by plain HTTP: a cookie jar per origin (Set-Cookie name and
 * value, kept until replaced), redirects followed by hand, and aliases so the service's public
 * URL (PUBLIC_URL, which providers redirect to) reaches the app's test address. Each instance is
 * one browser: two instances never share cookies.
 */
export class TestBrowser {
  private readonly jars = new Map<string, Map<string, string>>();
  readonly steps: BrowserStep[] = [];

  constructor(private readonly aliases: Record<string, string> = {}) {}

  /** The URL the request really goes to (a public origin replaced by its test address). */
  private resolve(url: string): string {
    const parsed = new URL(url);
    const target = this.aliases[parsed.origin];
    return target ? target + parsed.pathname + parsed.search : url;
  }

  private jar(url: string): Map<string, string> {
    const origin = new URL(this.resolve(url)).origin;
    let jar = this.jars.get(origin);
    if (!jar) this.jars.set(origin, (jar = new Map()));
    return jar;
  }

  cookie(url: string, name: string): string | undefined {
    return this.jar(url).get(name);
  }

  setCookie(url: string, name: string, value: string): void {
    this.jar(url).set(name, value);
  }

  /** One GET with this browser's cookies; no redirect followed. */
  async get(url: string): Promise<BrowserStep> {
    const jar = this.jar(url);
    const res = await fetch(this.resolve(url), {
      redirect: 'manual',
      headers: jar.size ? { cookie: [...jar].map(([k, v]) => `${k}=${v}`).join('; ') } : {},
    });
    for (const line of res.headers.getSetCookie()) {
      const [pair, ...attributes] = line.split(';');
      const [name, ...value] = pair!.trim().split('=');
      const expired = attributes.some((a) => /^\s*max-age=0\s*$/i.test(a) || /^\s*expires=Thu, 01 Jan 1970/i.test(a));
      if (expired) jar.delete(name!);
      else jar.set(name!, value.join('='));
    }
    const location = res.headers.get('location') ?? undefined;
    const step = { url, status: res.status, location: location ? new URL(location, url).href : undefined, body: await res.text() };
    this.steps.push(step);
    return step;
  }

  /**
   * Follows redirects from `url` until an answer is not a redirect or its target starts with
   * `stopAt`; a provider login page on the way (`login page` in its body) is answered by signing
   * in as `login` (`?login=`), as the user would. Returns the last redirect's target when it
   * stopped there, else the last answer.
   */
  async follow(url: string, options: { stopAt: string; login?: string }): Promise<BrowserStep & { stoppedAt?: string }> {
    let next = url;
    for (let hop = 0; hop < 20; hop++) {
      const step = await this.get(next);
      if (step.location?.startsWith(options.stopAt)) return { ...step, stoppedAt: step.location };
      if (step.location) {
        next = step.location;
        continue;
      }
      if (step.status === 200 && step.body.includes('login page') && options.login) {
        const login = new URL(next);
        login.searchParams.set('login', options.login);
        next = login.href;
        continue;
      }
      return step;
    }
    expect.fail(`more than 20 redirects from ${url}`);
  }
}
