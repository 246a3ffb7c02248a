/**
 * The no-enumeration part of `npm run bench`: for login (wrong password), password-reset request
 * and verification resend, the time of a known account against an unknown email. Sequential
 * requests, the two cases interleaved, each account and address used once (the per-account caps
 * of reset and resend never kick in).
 */
interface Case {
  what: string;
  path: string;
  known: string[];
  status: number;
  body: (email: string) => unknown;
}

async function timed(base: string, c: Case, email: string): Promise<number> {
  const t = performance.now();
  const res = await fetch(base + c.path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(c.body(email)) });
  await res.arrayBuffer();
  if (res.status !== c.status) throw new Error(`${c.what}: expected ${c.status}, got ${res.status}`);
  return performance.now() - t;
}

function stats(xs: number[]) {
  const sorted = [...xs].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const variance = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, xs.length - 1);
  return { p50: q(0.5), p90: q(0.9), mean, variance };
}

export async function timingReport(base: string, accounts: { known: string[]; pending: string[] }): Promise<string[]> {
  const cases: Case[] = [
    { what: 'login, wrong password', path: '/api/v1/auth/login', known: accounts.known, status: 401, body: (email) => ({ email, password: 'Not-The-Password-2026!' }) },
    { what: 'password-reset request', path: '/api/v1/auth/password/reset/request', known: accounts.known, status: 202, body: (email) => ({ email }) },
    { what: 'verification resend (pending)', path: '/api/v1/auth/email/resend', known: accounts.pending, status: 202, body: (email) => ({ email }) },
  ];
  const lines = ['known account vs unknown email (sequential, interleaved; Welch z over the means, |z| > 3 is a visible difference):'];
  for (const c of cases) {
    await timed(base, c, `warm-up.${Date.now()}@example.com`);
    const known: number[] = [];
    const unknown: number[] = [];
    for (const email of c.known) {
      known.push(await timed(base, c, email));
      unknown.push(await timed(base, c, `nobody.${crypto.randomUUID()}@example.com`));
    }
    const k = stats(known);
    const u = stats(unknown);
    const z = (k.mean - u.mean) / Math.sqrt(k.variance / known.length + u.variance / unknown.length || 1);
    lines.push(
      `  ${c.what.padEnd(30)} n=${known.length}  known p50 ${k.p50.toFixed(1)} ms p90 ${k.p90.toFixed(1)} ms  unknown p50 ${u.p50.toFixed(1)} ms p90 ${u.p90.toFixed(1)} ms  ` +
        `mean difference (known - unknown) ${(k.mean - u.mean).toFixed(2)} ms, z ${z.toFixed(1)}`,
    );
  }
  return lines;
}
