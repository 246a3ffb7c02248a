/**
 * Runs the generated Postman collection (postman/) with Newman's Node API, for
 * scripts/newman-ci.ts (`npm run test:newman`). Against a server of your own, run Newman's CLI
 * as README "QA with Newman" says.
 *
 *   import { runNewman } from './run-newman.js';
 *   const { failures } = await runNewman('http://127.0.0.1:3000', { admin: { email, password } });
 */
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const COLLECTION_FILE = join(ROOT, 'postman', 'sesame.postman_collection.json');
const ENVIRONMENT_FILE = join(ROOT, 'postman', 'sesame.postman_environment.json');

// The slice of newman's Node API used here (the package ships no TypeScript types).
interface NewmanFailure {
  error?: { name?: string; message?: string; test?: string };
  source?: { name?: string };
}
interface NewmanSummary {
  error?: Error | null;
  run: {
    failures: NewmanFailure[];
    stats: Record<string, { total?: number; failed?: number }>;
  };
}
interface NewmanRunOptions {
  collection: string;
  environment: string;
  envVar: Array<{ key: string; value: string }>;
  reporters: string[];
  ignoreRedirects: boolean;
  timeoutRequest: number;
  color: 'on' | 'off' | 'auto';
}
interface Newman {
  run(options: NewmanRunOptions, callback: (err: Error | null, summary: NewmanSummary) => void): unknown;
}

const newman = createRequire(import.meta.url)('newman') as Newman;

export interface RunNewmanOptions {
  /** Newman reporters; default ['cli']. */
  reporters?: string[];
  /** The administrator the admin flow logs in as (an account holding the admin role, no 2FA). */
  admin?: { email: string; password: string };
  /** More variables for the run (e.g. `oidc_driver`, the login driver of the OAuth flow's local provider). */
  variables?: Record<string, string>;
}

/**
 * Runs the collection with the generated environment, baseUrl overridden. Resolves with the
 * number of failures Newman recorded (failed assertions, script errors and request errors such
 * as a refused connection); rejects only if the run could not start (e.g. a missing file).
 */
export async function runNewman(baseUrl: string, options: RunNewmanOptions = {}): Promise<{ failures: number }> {
  const url = baseUrl.replace(/\/+$/, '');
  return new Promise((resolvePromise, reject) => {
    newman.run(
      {
        collection: COLLECTION_FILE,
        environment: ENVIRONMENT_FILE,
        envVar: [
          { key: 'baseUrl', value: url },
          ...(options.admin
            ? [
                { key: 'admin_email', value: options.admin.email },
                { key: 'admin_password', value: options.admin.password },
              ]
            : []),
          ...Object.entries(options.variables ?? {}).map(([key, value]) => ({ key, value })),
        ],
        reporters: options.reporters ?? ['cli'],
        // Contract tests check status codes as answered, redirects included.
        ignoreRedirects: true,
        timeoutRequest: 15_000,
        color: 'auto',
      },
      (err, summary) => {
        if (err) {
          reject(err);
          return;
        }
        const failures = summary.run.failures.length + (summary.error ? 1 : 0);
        resolvePromise({ failures });
      },
    );
  });
}
