/**
 * The bench's ceiling for password logins (node scripts/bench-argon2.mjs <memoryKiB> <timeCost>
 * <concurrency> <seconds>; UV_THREADPOOL_SIZE from the environment): argon2id verifications
 * back to back. Prints verifications per second and CPU ms per verification (whole process).
 */
import { hash, verify, Algorithm } from '@node-rs/argon2';

const [memoryCost, timeCost, concurrency, seconds] = process.argv.slice(2).map(Number);
const password = 'Bench-Pass-2026!';
const stored = await hash(password, { algorithm: Algorithm.Argon2id, memoryCost, timeCost, parallelism: 1 });
await verify(stored, password);
const cpu0 = process.cpuUsage();
const t0 = performance.now();
const end = t0 + seconds * 1000;
let ops = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < end) {
      await verify(stored, password);
      ops++;
    }
  }),
);
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ perSecond: ops / ((performance.now() - t0) / 1000), cpuPerOp: (cpu.user + cpu.system) / 1000 / ops }));
