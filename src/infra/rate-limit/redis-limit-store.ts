import { RedisStore as RateLimitRedisStore, type RedisReply } from 'rate-limit-redis';
import type { RedisStore } from '../store/redis-store.js';

/**
 * rate-limit-redis on the app's Redis connection. rate-limit-redis keeps a failed script load
 * for good, which would leave the limiter open until a restart: a failed load is retried by
 * the next request instead.
 */
export class RedisLimitStore extends RateLimitRedisStore {
  constructor(redis: RedisStore, prefix: string) {
    super({ prefix, sendCommand: (command: string, ...args: string[]) => redis.sendCommand(command, ...args) as Promise<RedisReply> });
  }

  override async increment(key: string): ReturnType<RateLimitRedisStore['increment']> {
    this.incrementScriptSha = this.incrementScriptSha.catch(() => this.loadIncrementScript());
    return super.increment(key);
  }
}
