import { Redis } from 'ioredis';
import type { FastStore, WindowCount } from './store.js';

const incrementScript = `
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {count, redis.call('PTTL', KEYS[1])}`;

const decrementScript = `
if tonumber(redis.call('GET', KEYS[1]) or '0') > 0 then redis.call('DECR', KEYS[1]) end`;

export class RedisStore implements FastStore {
  readonly kind = 'redis' as const;
  private constructor(
    private readonly redis: Redis,
    /** Prepended to every key of this store. */
    readonly prefix: string,
  ) {}

  /**
   * Connects before returning. While Redis is down or silent, calls fail within commandTimeout
   * instead of queueing or hanging, so callers can fall back to PostgreSQL.
   */
  static async connect(url: string, prefix = 'sesame:', commandTimeout = 500): Promise<RedisStore> {
    const redis = new Redis(url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 1, connectTimeout: 5000, commandTimeout });
    redis.on('error', () => {
      /* reported through failing commands and /readyz */
    });
    await redis.connect();
    return new RedisStore(redis, prefix);
  }

  async get(key: string): Promise<string | null> {
    return this.redis.get(this.prefix + key);
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    await this.redis.set(this.prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs)));
  }

  async setIfAbsent(key: string, value: string, ttlMs: number): Promise<boolean> {
    const r = await this.redis.set(this.prefix + key, value, 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX');
    return r === 'OK';
  }

  async delete(key: string): Promise<void> {
    await this.redis.del(this.prefix + key);
  }

  async take(key: string): Promise<string | null> {
    return this.redis.getdel(this.prefix + key);
  }

  async increment(key: string, windowMs: number): Promise<number> {
    return (await this.incrementWindow(key, windowMs)).count;
  }

  async incrementWindow(key: string, windowMs: number): Promise<WindowCount> {
    const [count, remainingMs] = (await this.redis.eval(incrementScript, 1, this.prefix + key, String(Math.max(1, Math.ceil(windowMs))))) as [number, number];
    return { count: Number(count), remainingMs: Number(remainingMs) };
  }

  async decrement(key: string): Promise<void> {
    await this.redis.eval(decrementScript, 1, this.prefix + key);
  }

  /** A raw command on this store's connection (for libraries that speak Redis themselves). */
  async sendCommand(command: string, ...args: string[]): Promise<unknown> {
    return this.redis.call(command, args);
  }

  async ping(): Promise<void> {
    await this.redis.ping();
  }

  async close(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
