import { Redis } from 'ioredis';
import { testRedisUrl } from './env.js';

/**
 * Moves time forward for the Redis keys that match `pattern`, as a manual clock does for the
 * PostgreSQL store: every key's TTL shrinks by `ms`, and a key whose TTL runs out is deleted.
 * Redis keeps real time and cannot be told the time, so tests that need a window to pass use
 * windows far longer than a test may run (minutes) and shorten them here: the outcome never
 * depends on how fast the machine is.
 */
const shiftScript = `
local cursor, shifted = '0', 0
repeat
  local page = redis.call('SCAN', cursor, 'MATCH', ARGV[1], 'COUNT', 500)
  cursor = page[1]
  for _, key in ipairs(page[2]) do
    local ttl = redis.call('PTTL', key)
    if ttl > 0 then
      if ttl <= tonumber(ARGV[2]) then redis.call('DEL', key) else redis.call('PEXPIRE', key, ttl - tonumber(ARGV[2])) end
      shifted = shifted + 1
    end
  end
until cursor == '0'
return shifted`;

/** Shifts the TTLs of the keys matching `pattern` by `ms`; returns how many keys it touched. */
export async function advanceRedisTime(pattern: string, ms: number): Promise<number> {
  const redis = new Redis(testRedisUrl, { lazyConnect: true });
  try {
    await redis.connect();
    return Number(await redis.eval(shiftScript, 0, pattern, String(Math.ceil(ms))));
  } finally {
    redis.disconnect();
  }
}

/** The remaining TTL of a Redis key in milliseconds (-2: no such key, -1: no expiry). */
export async function redisTtlMs(key: string): Promise<number> {
  const redis = new Redis(testRedisUrl, { lazyConnect: true });
  try {
    await redis.connect();
    return Number(await redis.pttl(key));
  } finally {
    redis.disconnect();
  }
}
