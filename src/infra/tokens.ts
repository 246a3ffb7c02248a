import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { SignJWT, jwtVerify, errors as joseErrors, decodeProtectedHeader, type JWTPayload } from 'jose';
import { AppError } from '../shared/errors.js';
import type { ActClaim } from '../shared/request-context.js';
import type { Clock } from './clock.js';
import { signingAlg, type SigningKeys } from './keys.js';

export interface AccessClaims {
  sub: string;
  sid: string;
  actor_type: string;
  amr: string[];
  status: string;
  is_guest: boolean;
  /** The user's unexpired roles, highest priority first, when the token was issued. */
  roles: string[];
  /** The permissions those roles carry (wildcards kept as granted). */
  permissions: string[];
  plan: 'free' | 'premium' | 'trial';
  /** The session's active organization and the member's role in it, when one is active. */
  org_id?: string;
  org_role?: string;
  device_id?: string;
  /** Under an impersonation: who acts as the subject (README "Administration"). */
  act?: ActClaim;
}

export interface VerifiedAccessToken extends AccessClaims {
  jti: string;
  iat: number;
  exp: number;
}

/** How far in the future an `iat` may be (clock skew between instances); beyond, the token is refused. */
export const maxIssuedAtSkewSeconds = 5;

/** The format of newOpaqueToken's tokens: 32 random bytes, base64url. */
export const opaqueTokenFormat = /^[A-Za-z0-9_-]{43}$/;

/** A random opaque secret (256 bits) and the hash under which it is stored. */
export function newOpaqueToken(): { token: string; hash: string } {
  const token = randomBytes(32).toString('base64url');
  return { token, hash: hashOpaqueToken(token) };
}

export function hashOpaqueToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** Issues and verifies ES256 access tokens. */
export class AccessTokens {
  constructor(
    private readonly keys: SigningKeys,
    private readonly clock: Clock,
    private readonly issuer: string,
    private readonly audience: string,
  ) {}

  /** Loads the key sign() will use (a read when the cached keys are stale), failing as sign() would. */
  async ready(): Promise<void> {
    await this.keys.signingKey();
  }

  async sign(claims: AccessClaims, ttlSeconds: number): Promise<{ token: string; jti: string; expiresAt: Date }> {
    const { kid, key } = await this.keys.signingKey();
    const iat = Math.floor(this.clock.now().getTime() / 1000);
    const jti = randomUUID();
    const token = await new SignJWT({ ...claims })
      .setProtectedHeader({ alg: signingAlg, kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setAudience(this.audience)
      .setSubject(claims.sub)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .sign(key);
    return { token, jti, expiresAt: new Date((iat + ttlSeconds) * 1000) };
  }

  /** Verifies signature (ES256 only), issuer, audience, expiry and an `iat` not in the future; throws an AppError. */
  async verify(token: string): Promise<VerifiedAccessToken> {
    let kid: string | undefined;
    try {
      const header = decodeProtectedHeader(token);
      kid = header.kid;
      if (header.alg !== signingAlg || !kid) throw new Error('unexpected header');
    } catch {
      throw new AppError('invalid_token', { detail: 'The access token is malformed or not signed by Sésame.' });
    }
    const key = await this.keys.verificationKey(kid);
    if (!key) throw new AppError('invalid_token', { detail: 'The access token is signed by an unknown key.' });
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, key, {
        algorithms: [signingAlg],
        issuer: this.issuer,
        audience: this.audience,
        currentDate: this.clock.now(),
        requiredClaims: ['sub', 'jti', 'exp', 'iat', 'sid'],
      }));
    } catch (e) {
      if (e instanceof joseErrors.JWTExpired) throw new AppError('token_expired', { detail: 'The access token has expired.' });
      throw new AppError('invalid_token', { detail: 'The access token is invalid.' });
    }
    if (typeof payload.iat !== 'number' || payload.iat > Math.floor(this.clock.now().getTime() / 1000) + maxIssuedAtSkewSeconds) {
      throw new AppError('invalid_token', { detail: 'The access token is invalid.' });
    }
    return payload as unknown as VerifiedAccessToken;
  }
}
