/**
 * How a session was signed in (the first factor): the values an actor type's `allowed_methods`
 * names (the spec's `AuthMethod`) and sessions record. `oidc:<id>` is a configured OpenID Connect
 * provider; `qr` a sign-in approved from another signed-in device; `impersonation` a session an
 * administrator opened as the user.
 */
export type AuthMethod = 'password' | 'google' | 'github' | `oidc:${string}` | 'sms' | 'qr' | 'guest' | 'api_key' | 'impersonation';

/** RFC 8176 authentication method references, plus `ext` and the provider for external sign-ins. */
export type Amr = string;

const fixedMethods = new Set<string>(['password', 'google', 'github', 'sms', 'qr', 'guest', 'api_key', 'impersonation']);
const oidcMethod = /^oidc:[a-z0-9_-]{1,50}$/;

export function isAuthMethod(value: string): value is AuthMethod {
  return fixedMethods.has(value) || oidcMethod.test(value);
}

/** A method read back from storage (sessions, challenges); anything else is a corrupt row. */
export function parseAuthMethod(value: string): AuthMethod {
  if (!isAuthMethod(value)) throw new Error(`unknown sign-in method '${value}'`);
  return value;
}

/** The `amr` a first factor proves by itself (a second factor adds `otp`). */
export function firstFactorAmr(method: AuthMethod): Amr[] {
  switch (method) {
    case 'password':
      return ['pwd'];
    case 'sms':
      return ['sms'];
    case 'qr':
      // Approved from another signed-in device: multiple-channel authentication (RFC 8176).
      return ['mca'];
    case 'google':
    case 'github':
      return ['ext', method];
    case 'guest':
    case 'api_key':
      return [];
    default:
      return method.startsWith('oidc:') ? ['ext', method.slice('oidc:'.length)] : [method];
  }
}

/** The amr once a second factor (TOTP or a backup code) is proven on top of `first`. */
export function withSecondFactor(first: Amr[]): Amr[] {
  return first.includes('otp') ? first : [...first, 'otp'];
}

export function hasSecondFactor(amr: Amr[]): boolean {
  return amr.includes('otp');
}
