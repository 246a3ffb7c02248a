/**
 * How many processes serve, and how many libuv threads each one gets (README "Running"). CommonJS, so
 * that the entry point (src/main.cts) can use it before any ES module is loaded.
 */
import { availableParallelism } from 'node:os';

interface WorkerSettings {
  NODE_ENV?: string;
  WORKERS?: number | string;
}

/** WORKERS, or by default one per core in production and one elsewhere. */
export function plannedWorkers(env: WorkerSettings): number {
  const given = Number(env.WORKERS);
  if (Number.isInteger(given) && given >= 1) return given;
  return env.NODE_ENV === 'production' ? availableParallelism() : 1;
}

/**
 * The cores one serving process may use: argon2 hashes run on libuv's pool, and more hash threads
 * than cores only add context switches and memory (each hash holds ARGON2_MEMORY_KIB).
 */
export function threadPoolSize(workers: number): number {
  return Math.max(1, Math.ceil(availableParallelism() / workers));
}
