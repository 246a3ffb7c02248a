/**
 * Creates the first administrator (SPEC §4.9):
 *   SESAME_ADMIN_PASSWORD='…' npm run admin:create -- --email admin@example.com [--first-name Ada] [--last-name Lovelace] [--actor-type admin] [--env-file qa.env]
 * `--password` also works, but the environment keeps the password out of the shell history and
 * the process list; SESAME_ADMIN_EMAIL may stand for `--email`. An existing account with that
 * email gets the actor type and the `admin` role (its password is kept). Prints the user id.
 * Uses the same configuration as the server (DATABASE_URL or the embedded database), migrated
 * first; `--env-file` reads settings from a file as `node --env-file` does (the environment wins),
 * so a server started with that file (`npm run qa:server`) and this command share a database.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { loadConfig } from '../src/config/config.js';
import { openInfrastructure } from '../src/infra/infrastructure.js';
import { PasswordHasher } from '../src/infra/passwords.js';
import { createAdmin } from '../src/modules/users/create-admin.js';
import { AppError } from '../src/shared/errors.js';

const usage = "usage: SESAME_ADMIN_PASSWORD='…' npm run admin:create -- --email <email> [--first-name <name>] [--last-name <name>] [--actor-type <type>] [--env-file <file>]";

let options: { email?: string; password?: string; 'first-name'?: string; 'last-name'?: string; 'actor-type'?: string; 'env-file'?: string };
try {
  options = parseArgs({
    options: {
      email: { type: 'string' },
      password: { type: 'string' },
      'first-name': { type: 'string' },
      'last-name': { type: 'string' },
      'actor-type': { type: 'string' },
      'env-file': { type: 'string' },
    },
  }).values;
} catch (err) {
  console.error(`${(err as Error).message}\n${usage}`);
  process.exit(2);
}
if (options['env-file']) {
  try {
    process.loadEnvFile(options['env-file']);
  } catch (err) {
    console.error(`--env-file ${options['env-file']}: ${(err as Error).message}`);
    process.exit(2);
  }
}
const email = options.email ?? process.env.SESAME_ADMIN_EMAIL;
const password = options.password ?? process.env.SESAME_ADMIN_PASSWORD;
if (!email || !password) {
  console.error(usage);
  process.exit(2);
}

const config = loadConfig();
// Warnings go to stderr: stdout carries only the id, for scripts.
const infra = await openInfrastructure(config, pino({ level: 'warn' }, pino.destination(2)));
try {
  const hasher = new PasswordHasher({ memoryKiB: config.ARGON2_MEMORY_KIB, timeCost: config.ARGON2_TIME_COST });
  const id = await createAdmin(infra.db, infra.clock, hasher, {
    email,
    password,
    firstName: options['first-name'],
    lastName: options['last-name'],
    actorType: options['actor-type'],
  });
  console.log(id);
} catch (err) {
  if (!(err instanceof AppError)) throw err;
  console.error([err.message, ...(err.errors ?? []).map((e) => `  ${e.path}: ${e.message}`)].join('\n'));
  process.exitCode = 1;
} finally {
  await infra.close();
}
