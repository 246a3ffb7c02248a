import type { Knex } from 'knex';
import type { MfaChallenge } from '../../sdk/src/types.gen.js';
import type { Clock } from '../infra/clock.js';
import { AppError } from '../shared/errors.js';
import type { RequestContext } from '../shared/request-context.js';
import type { EffectiveAccess } from './access.js';
import { actorPolicy } from './actor-policy.js';
import { actorTypesRepo, type ActorTypeRow } from './actor-types.repo.js';
import { registerDevice } from './device-registry.js';
import { hasSecondFactor, type Amr, type AuthMethod } from './auth-method.js';
import { deviceTrust } from './device-trust.js';
import type { DeviceInput, Impersonation, OpenSessionInput, Sessions, TokenPair } from './sessions/sessions.js';
import { toUserDto, type UserDto, type UserRow } from './users.repo.js';
import { assertNotSuspended } from './sessions/session-errors.js';

/**
 * A user whose first factor is proven, asking for a session (the session's fields as
 * OpenSessionInput has them; `deviceRef`: a device already in the user's registry, as for a
 * sign-in resumed after its second factor or a derived session).
 */
export interface SignInRequest extends Pick<OpenSessionInput, 'user' | 'method' | 'amr' | 'rememberMe' | 'device' | 'deviceId' | 'deviceRef' | 'context' | 'notifyNewDevice'> {
  /** The actor type asked for; undefined: the strictest held type that allows the method. */
  actorType?: string;
  /** The user's actor types, strictest first, when the caller has just read them. */
  held?: ActorTypeRow[];
  /** The user's effective access, when the caller has just read it with the user. */
  access?: EffectiveAccess;
  /**
   * A password sign-in that ends in a session makes its device trusted: the result carries a
   * device token (see device-trust.ts). Other methods ignore it.
   */
  trustDevice?: boolean;
  /**
   * A session opened from a live one (switch-actor replaces it; an impersonation starts from the
   * administrator's): the caller has already checked that the session's proof suffices
   * (actorPolicy.assertSwitchAllowed, or the impersonation rules), so no challenge is made; the
   * new session ends no later than `expiresAt`, and `within` runs in its opening transaction.
   */
  derivedFrom?: { expiresAt: Date; within: (trx: Knex.Transaction, sessionId: string) => Promise<void> };
  /** An administrator opening a session as the user (method `impersonation`, with `derivedFrom`). */
  impersonation?: Impersonation;
}

/** A sign-in paused for a second factor: what the challenge must remember to finish it. */
export interface PendingSignIn {
  user: UserRow;
  actorType: ActorTypeRow;
  method: AuthMethod;
  amr: Amr[];
  /** Whether an actor type the user holds requires a second factor (the user may have none yet). */
  secondFactorRequired: boolean;
  rememberMe: boolean;
  device?: DeviceInput;
  deviceId?: string;
  /** The registered device of the sign-in (it stays unverified until the sign-in completes). */
  deviceRef?: string;
  context: RequestContext;
}

/** Decides whether a sign-in must prove a second factor first, and makes the challenge. */
export interface SecondFactorGate {
  /** The challenge the sign-in must answer instead of getting tokens; undefined when none is needed. */
  challenge(pending: PendingSignIn): Promise<MfaChallenge | undefined>;
}

/** Told of every completed (fresh) sign-in. */
export interface SignInObserver {
  /** After its session opened. */
  signedIn?(user: UserRow, method: AuthMethod): Promise<void>;
  /** A write that commits with the session, in the statement that opens it (a builder, not run), or undefined. */
  writeOnSignIn?(user: UserRow, method: AuthMethod): Knex.QueryBuilder | undefined;
}

export type SignInResult =
  | { kind: 'session'; sessionId: string; tokens: TokenPair; user: UserRow; held: ActorTypeRow[]; actorType: ActorTypeRow; deviceToken?: string }
  | { kind: 'challenge'; challenge: MfaChallenge };

/** The login answer (the spec's `LoginResponse`): tokens and the user, or the 2FA challenge. */
export type LoginAnswer = (TokenPair & { user: UserDto; device_token?: string }) | MfaChallenge;

export function loginAnswer(result: SignInResult): LoginAnswer {
  if (result.kind === 'challenge') return result.challenge;
  const answer = { ...result.tokens, user: toUserDto(result.user, result.held.map((a) => a.name)) };
  return result.deviceToken ? { ...answer, device_token: result.deviceToken } : answer;
}

export interface SignInDeps {
  db: Knex;
  clock: Clock;
  sessions: Sessions;
  secondFactor: SecondFactorGate;
  observers?: SignInObserver[];
}

/**
 * The one way a session is opened: every sign-in method (password, a second factor, guests,
 * conversion, switch-actor, and the external, phone and QR methods) proves its first factor,
 * then hands the user here. In order: the account's state, the acting actor type (its policy
 * must allow the method), the second factor (a challenge that remembers method and amr), then
 * the session with its audit row and new-device notification, then the observers.
 */
export class SignInPipeline {
  constructor(private readonly deps: SignInDeps) {}

  async complete(request: SignInRequest): Promise<SignInResult> {
    const { user, method } = request;
    if (user.status === 'pending_verification') throw new AppError('email_not_verified', { detail: 'Verify your email address before logging in.' });
    assertNotSuspended(user);
    const held = request.held ?? (await actorTypesRepo.heldBy(this.deps.db, user.id));
    const actorType = actorPolicy.actingType(held, method, request.actorType);
    if (!actorType) throw new AppError('actor_type_not_held', { detail: `This account cannot sign in with ${method === 'password' ? 'a password' : method} as this actor type.` });
    // The first factor is proven: the device joins the registry (README "Devices") before any challenge.
    const deviceRef = request.deviceRef ?? (request.device && !request.derivedFrom ? await registerDevice(this.deps.db, this.deps.clock, user, request.device, request.context) : undefined);

    if (!request.derivedFrom && !hasSecondFactor(request.amr)) {
      const challenge = await this.deps.secondFactor.challenge({
        user,
        actorType,
        method,
        amr: request.amr,
        secondFactorRequired: actorPolicy.requiresSecondFactor(held),
        rememberMe: request.rememberMe,
        device: request.device,
        deviceId: request.deviceId,
        deviceRef,
        context: request.context,
      });
      if (challenge) return { kind: 'challenge', challenge };
    }

    const trust = request.trustDevice === true && method === 'password' && !request.derivedFrom;
    const trusted = trust ? deviceTrust.issue(this.deps.db, this.deps.clock, user.id) : undefined;
    const observers = request.derivedFrom ? [] : (this.deps.observers ?? []);
    const writes = observers.map((observer) => observer.writeOnSignIn?.(user, method)).filter((write): write is Knex.QueryBuilder => write !== undefined);
    const { sessionId, tokens } = await this.deps.sessions.open({
      user,
      actorType,
      held,
      method,
      amr: request.amr,
      rememberMe: request.rememberMe,
      device: request.device,
      deviceId: request.deviceId,
      deviceRef,
      context: request.context,
      notifyNewDevice: request.derivedFrom ? false : request.notifyNewDevice,
      expiresNoLaterThan: request.derivedFrom?.expiresAt,
      impersonation: request.impersonation,
      within: request.derivedFrom?.within,
      writes: trusted ? [trusted.write, ...writes] : writes,
      access: request.access,
    });
    for (const observer of observers) await observer.signedIn?.(user, method);
    return { kind: 'session', sessionId, tokens, user, held, actorType, deviceToken: trusted?.token };
  }

  /** complete() for flows whose answer has no room for a 2FA challenge (guests, conversion, switch-actor). */
  async completeWithoutChallenge(request: SignInRequest): Promise<Extract<SignInResult, { kind: 'session' }>> {
    const result = await this.complete(request);
    if (result.kind === 'challenge') throw new Error(`a ${request.method} sign-in was asked for a second factor it cannot answer`);
    return result;
  }
}
