import type { Knex } from 'knex';
import type { PhoneAttachRequest, PhoneLoginRequest, PhoneRegisterRequest } from '../../../sdk/src/types.gen.js';
import { defaultRole, provisionAccount } from '../../identity/accounts.js';
import { actorPolicy } from '../../identity/actor-policy.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { firstFactorAmr } from '../../identity/auth-method.js';
import { loginAnswer, type LoginAnswer, type SignInPipeline } from '../../identity/sign-in.js';
import { toUserDto, usersRepo, type UserDto, type UserRecord } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import type { Metrics } from '../../infra/metrics.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import type { PhoneVerifications } from './phone-verification.js';
import { accountGone } from '../../identity/sessions/session-errors.js';
import { isUniqueViolation } from '../../infra/pg-errors.js';

export interface PhoneSignInDeps {
  db: Knex;
  clock: Clock;
  verifications: PhoneVerifications;
  signIn: SignInPipeline;
  metrics: Pick<Metrics, 'loginAttempts' | 'registerAttempts'>;
  settings: { defaultActorType: string };
}

const phoneTaken = () => new AppError('phone_already_registered', { detail: 'An account already signs in with this phone number: log in instead.' });

/**
 * The phone sign-in method (README "Phone sign-in"): a confirmed verification is the first
 * factor. Sign-up makes a phone-only account (no email, no password, phone verified, active),
 * login finds the account of the verified number; both end in the sign-in pipeline (method
 * `sms`, amr `["sms"]`), which applies the account state, the actor type and 2FA.
 */
export class PhoneSignIn {
  constructor(private readonly deps: PhoneSignInDeps) {}

  async register(input: PhoneRegisterRequest, context: RequestContext): Promise<LoginAnswer> {
    const { db, clock, verifications, signIn, metrics, settings } = this.deps;
    if (input.accept_terms !== true) throw new AppError('terms_not_accepted', { detail: 'The terms and conditions must be accepted.', errors: [{ path: '/body/accept_terms', message: 'must be true' }] });
    const userType = input.user_type ?? settings.defaultActorType;
    const actorType = await actorTypesRepo.find(db, userType);
    if (!actorType || !actorPolicy.allowsSelfSignup(actorType, 'sms')) {
      throw new AppError('actor_type_not_allowed', { detail: `Accounts of type '${userType}' cannot be created with a phone number.`, errors: [{ path: '/body/user_type', message: 'not a self-signup actor type that allows sms' }] });
    }
    let user: UserRecord;
    try {
      user = await db.transaction(async (trx) => {
        const verification = await verifications.consume(trx, input.verification_id, 'registration');
        if (await usersRepo.findLiveByVerifiedPhone(trx, verification.phone)) throw phoneTaken();
        const now = clock.now();
        return provisionAccount(trx, clock, {
          user: {
            create: {
              email: null,
              phone: verification.phone,
              phone_verified_at: now,
              password_hash: null,
              first_name: input.first_name,
              last_name: input.last_name,
              language: input.language ?? 'en',
              status: 'active',
              terms_accepted_at: now,
            },
          },
          actorType: actorType.name,
          role: defaultRole,
          audit: [{ event: 'user.registered', identifier: verification.phone, details: { user_type: actorType.name, method: 'sms' } }],
          context,
        });
      });
    } catch (err) {
      // A concurrent registration of the same number won the race.
      throw isUniqueViolation(err) ? phoneTaken() : err;
    }
    metrics.registerAttempts.inc({ status: 'success', user_type: actorType.name });
    const result = await signIn.complete({
      user,
      method: 'sms',
      amr: firstFactorAmr('sms'),
      actorType: actorType.name,
      held: [actorType],
      rememberMe: input.remember_me ?? true,
      device: input.device,
      context,
    });
    return loginAnswer(result);
  }

  /** The policy comes first: a named actor type that does not allow `sms` is refused before the verification is used. */
  async login(input: PhoneLoginRequest, context: RequestContext): Promise<LoginAnswer> {
    const { db, verifications, signIn, metrics } = this.deps;
    if (input.actor_type !== undefined) {
      const named = await actorTypesRepo.find(db, input.actor_type);
      if (!named || !actorPolicy.allowsMethod(named, 'sms')) {
        metrics.loginAttempts.inc({ status: 'auth_method_not_allowed', role: named?.name ?? 'unknown' });
        throw new AppError('auth_method_not_allowed', { detail: `Signing in by SMS is not allowed for the actor type '${input.actor_type}'.` });
      }
    }
    const verification = await db.transaction((trx) => verifications.consume(trx, input.verification_id, 'login'));
    const user = await usersRepo.findLiveByVerifiedPhone(db, verification.phone);
    if (!user) {
      metrics.loginAttempts.inc({ status: 'invalid_credentials', role: 'unknown' });
      throw new AppError('invalid_credentials', { detail: 'No account signs in with this phone number.' });
    }
    try {
      const result = await signIn.complete({
        user,
        method: 'sms',
        amr: firstFactorAmr('sms'),
        actorType: input.actor_type,
        rememberMe: input.remember_me ?? true,
        device: input.device,
        context,
      });
      metrics.loginAttempts.inc({ status: result.kind === 'challenge' ? 'mfa_required' : 'success', role: result.kind === 'session' ? result.actorType.name : 'unknown' });
      return loginAnswer(result);
    } catch (err) {
      if (err instanceof AppError) metrics.loginAttempts.inc({ status: err.code, role: 'unknown' });
      throw err;
    }
  }

  /** Adds or changes the signed-in account's verified phone with a confirmed `recovery` verification. */
  async setPhone(auth: { sub: string; sid: string }, input: PhoneAttachRequest, context: RequestContext): Promise<UserDto> {
    const { db, clock, verifications } = this.deps;
    try {
      const user = await db.transaction(async (trx) => {
        const current = await usersRepo.findLiveRecord(trx, auth.sub, { lock: true });
        if (!current) throw accountGone();
        const verification = await verifications.consume(trx, input.verification_id, 'recovery');
        const owner = await usersRepo.findLiveByVerifiedPhone(trx, verification.phone);
        if (owner && owner.id !== current.id) throw phoneTaken();
        const now = clock.now();
        const updated = await usersRepo.update(trx, current.id, { phone: verification.phone, phone_verified_at: now, updated_at: now });
        await recordAudit(trx, clock, {
          event: 'phone.verified',
          userId: current.id,
          sessionId: auth.sid,
          identifier: verification.phone,
          context,
          details: { verification_id: verification.id, changed: current.phone_verified_at !== null && current.phone !== verification.phone },
        });
        return updated;
      });
      return toUserDto(user, (await actorTypesRepo.heldBy(db, user.id)).map((a) => a.name));
    } catch (err) {
      throw isUniqueViolation(err) ? phoneTaken() : err;
    }
  }
}
