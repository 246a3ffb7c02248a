import { createRemoteJWKSet, customFetch, errors, type JWTVerifyGetKey } from 'jose';
import { SesameAuthError } from './errors.js';

export interface Clock {
  now(): Date;
}

export interface JwksOptions {
  clock: Clock;
  /** How long a fetched key set is used before it is fetched again (Sésame lets clients cache it 300 s). */
  cacheMaxAgeMs: number;
  /** An unknown `kid` refetches the set at most this often, so forged kids cannot hammer Sésame. */
  cooldownMs: number;
  timeoutMs: number;
  fetch: typeof fetch;
}

/**
 * jose's remote key set (fetching, parsing, key selection, one fetch in flight) with its cache
 * and cooldown driven by the kit's clock rather than Date.now, so expiry and rotation follow one
 * time source (and tests can move it). Sésame publishes a new key before it signs with it
 * (README "Operations": rotation), so a cache younger than the JWKS max-age always knows it; an
 * emergency rotation is picked up through the unknown-kid refetch.
 */
export function clockedRemoteJwks(url: URL, options: JwksOptions): JWTVerifyGetKey {
  const remote = createRemoteJWKSet(url, {
    cacheMaxAge: Infinity,
    cooldownDuration: Infinity,
    timeoutDuration: options.timeoutMs,
    [customFetch]: options.fetch,
  });
  let loadedAt: number | undefined;
  const now = () => options.clock.now().getTime();

  const reload = async () => {
    try {
      await remote.reload();
      loadedAt = now();
    } catch (cause) {
      if (loadedAt === undefined) throw new SesameAuthError('service_unavailable', 'The signing keys of Sésame could not be fetched.', { cause });
      // Keep the keys already known, and try again after a cooldown rather than on every request.
      loadedAt = now() - options.cacheMaxAgeMs + options.cooldownMs;
    }
  };

  return async (header, token) => {
    if (loadedAt === undefined || now() - loadedAt >= options.cacheMaxAgeMs) await reload();
    try {
      return await remote(header, token);
    } catch (err) {
      if (!(err instanceof errors.JWKSNoMatchingKey) || now() - loadedAt! < options.cooldownMs) throw err;
      await reload();
      return remote(header, token);
    }
  };
}
