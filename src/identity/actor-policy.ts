import type { ActorTypePolicy } from '../../sdk/src/types.gen.js';
import { AppError, type FieldError } from '../shared/errors.js';
import type { ActorTypeRow } from './actor-types.repo.js';
import { hasSecondFactor, type Amr, type AuthMethod } from './auth-method.js';

/**
 * Every actor-type policy decision (README "Actor types"): which methods a type allows, who may sign up, when a
 * second factor is required, how long tokens and sessions live, who may be impersonated. When a
 * user holds several types, the strictest (highest priority) governs the account-wide rules.
 * `held` lists are strictest first, as actorTypesRepo.heldBy returns them.
 */
export const actorPolicy = {
  /** Impersonation is no method a type lists: its `allow_impersonation` decides. */
  allowsMethod(type: Pick<ActorTypeRow, 'allowed_methods'> & Partial<Pick<ActorTypeRow, 'allow_impersonation'>>, method: AuthMethod | string): boolean {
    return method === 'impersonation' ? type.allow_impersonation === true : type.allowed_methods.includes(method);
  },

  /** Anyone may create an account of this type with this method (registration, conversion, first external sign-in). */
  allowsSelfSignup(type: ActorTypeRow, method: AuthMethod): boolean {
    return type.self_signup && this.allowsMethod(type, method);
  },

  /**
   * The type a sign-in with `method` acts as: the requested one when the user holds it and it
   * allows the method; without a request, the strictest held type that allows the method.
   */
  actingType(held: ActorTypeRow[], method: AuthMethod, requested?: string): ActorTypeRow | undefined {
    const candidates = held.filter((a) => this.allowsMethod(a, method));
    return requested === undefined ? candidates[0] : candidates.find((a) => a.name === requested);
  },

  /** Whether any type the user holds allows `method` (else the sign-in must not even check the secret). */
  anyAllows(held: ActorTypeRow[], method: AuthMethod): boolean {
    return held.some((a) => this.allowsMethod(a, method));
  },

  /** A second factor is required when any held type requires it (the strictest governs). */
  requiresSecondFactor(held: ActorTypeRow[]): boolean {
    return held.some((a) => a.require_2fa);
  },

  /**
   * The lifetimes a session of `acting` gets: its own, but never longer than those of the user's
   * strictest actor type, which governs when a user holds several.
   */
  lifetimes(acting: ActorTypeRow, held: ActorTypeRow[]): { accessTtl: number; sessionDuration: number } {
    const governing = held[0] ?? acting;
    return {
      accessTtl: Math.min(acting.access_token_ttl, governing.access_token_ttl),
      sessionDuration: Math.min(acting.session_duration, governing.session_duration),
    };
  },

  /**
   * Whether a live session (signed in with `method`, proving `amr`) may keep going as `acting`
   * (refresh): an administrator may have withdrawn its method since.
   */
  sessionStillAllowed(acting: ActorTypeRow, method: AuthMethod): boolean {
    return this.allowsMethod(acting, method);
  },

  /**
   * A session switching to `target` keeps its proof of identity and never upgrades it: the
   * target must allow the session's method, and a second factor the account needs must already
   * be in the session's amr. Throws 403 reauth_required otherwise.
   */
  assertSwitchAllowed(target: ActorTypeRow, held: ActorTypeRow[], session: { method: AuthMethod; amr: Amr[] }): void {
    if (!this.allowsMethod(target, session.method)) {
      throw new AppError('reauth_required', { detail: `Acting as '${target.name}' needs another sign-in method: log in again as '${target.name}'.` });
    }
    if ((target.require_2fa || this.requiresSecondFactor(held)) && !hasSecondFactor(session.amr)) {
      throw new AppError('reauth_required', { detail: `Acting as '${target.name}' needs a second factor: log in again as '${target.name}'.` });
    }
  },

  /**
   * Why a session may not approve a cross-device (QR) sign-in, or undefined when it may
   * (README "QR login"): a guest proves nobody and an impersonation is not the user; a session
   * opened after the challenge may have been opened for it (a phished sign-in approving the
   * phisher's screen, RFC 8628 §5.4); and the new session acts as the approver's actor type, which
   * must allow `qr`.
   */
  crossDeviceApprovalRefusal(
    approver: { isGuest: boolean; method: AuthMethod; acting: ActorTypeRow | undefined; sessionCreatedAt: Date },
    challengeCreatedAt: Date,
  ): 'not_a_user' | 'session_too_recent' | 'method_not_allowed' | undefined {
    if (approver.isGuest || approver.method === 'guest' || approver.method === 'impersonation') return 'not_a_user';
    if (approver.sessionCreatedAt.getTime() > challengeCreatedAt.getTime()) return 'session_too_recent';
    if (!approver.acting || !this.allowsMethod(approver.acting, 'qr')) return 'method_not_allowed';
    return undefined;
  },

  /** Whether an administrator may open a session as a user acting as `type`. */
  allowsImpersonation(type: Pick<ActorTypeRow, 'allow_impersonation'>): boolean {
    return type.allow_impersonation;
  },

  /**
   * Whether a user may be impersonated at all: every type they hold must allow it (a type that
   * refuses impersonation protects its holders whatever else they hold), and they hold one.
   */
  impersonable(held: ActorTypeRow[]): boolean {
    return held.length > 0 && held.every((a) => this.allowsImpersonation(a));
  },

  /** Rules no edited policy may break (README "Actor types": `admin` requires 2FA and is never self-signup). */
  editViolations(name: string, policy: ActorTypePolicy): FieldError[] {
    if (name !== 'admin') return [];
    const errors: FieldError[] = [];
    if (policy.self_signup) errors.push({ path: '/body/self_signup', message: 'must be false for admin' });
    if (!policy.require_2fa) errors.push({ path: '/body/require_2fa', message: 'must be true for admin' });
    return errors;
  },
};
