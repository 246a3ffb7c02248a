import type { Knex } from 'knex';
import type { ConvertGuestRequest, GuestConversion, GuestRequest, GuestSession } from '../../../sdk/src/types.gen.js';
import { defaultRole, provisionAccount } from '../../identity/accounts.js';
import { actorPolicy } from '../../identity/actor-policy.js';
import { actorTypesRepo, type ActorTypeRow } from '../../identity/actor-types.repo.js';
import { firstFactorAmr } from '../../identity/auth-method.js';
import { emailVerification } from '../../identity/email-verification.js';
import { quotasOf } from '../../identity/quota-view.js';
import type { Sessions } from '../../identity/sessions/sessions.js';
import type { SignInPipeline } from '../../identity/sign-in.js';
import { checkSignup } from '../../identity/signup-rules.js';
import { normalizeEmail, usersRepo, type UserRecord } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import type { PasswordHasher } from '../../infra/passwords.js';
import type { VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import { userDetail } from './user-detail.js';
import { isUniqueViolation } from '../../infra/pg-errors.js';

export interface GuestSettings {
  appUrl: string;
  defaultActorType: string;
}

export interface GuestsDeps {
  db: Knex;
  clock: Clock;
  hasher: PasswordHasher;
  sessions: Sessions;
  signIn: SignInPipeline;
  settings: GuestSettings;
}

const guestActorType = 'guest';
const guestRole = 'guest';

type Caller = Pick<VerifiedAccessToken, 'sub' | 'sid' | 'device_id'>;

const emailTaken = () => new AppError('email_already_registered', { detail: 'An account already exists with this email.' });

/** Guests (README "Guests, users and quotas"): created without credentials, later turned into permanent accounts in place. */
export class GuestsService {
  constructor(private readonly deps: GuestsDeps) {}

  /** A new guest with role `guest`, its quotas and a remembered session (the device id is kept on it). */
  async create(input: GuestRequest, context: RequestContext): Promise<GuestSession> {
    const { db, clock, signIn } = this.deps;
    // The actor-type policy comes before anything is created.
    const actorType = await actorTypesRepo.find(db, guestActorType);
    if (!actorType || !actorPolicy.allowsMethod(actorType, 'guest')) {
      throw new AppError('auth_method_not_allowed', { detail: 'Guest sessions are turned off on this service.' });
    }
    const user = await db.transaction((trx) =>
      provisionAccount(trx, clock, {
        user: { create: { email: null, password_hash: null, is_guest: true, status: 'active', language: input.locale ?? 'en' } },
        actorType: actorType.name,
        role: guestRole,
        audit: [{ event: 'guest.created', details: { device_id: input.device_id ?? null } }],
        context,
      }),
    );
    const { tokens } = await signIn.completeWithoutChallenge({
      user,
      method: 'guest',
      amr: firstFactorAmr('guest'),
      actorType: actorType.name,
      held: [actorType],
      rememberMe: true,
      deviceId: input.device_id,
      context,
      notifyNewDevice: false,
    });
    const now = clock.now();
    return { ...tokens, user: await userDetail(db, user, now), quotas: await quotasOf(db, user.id, now) };
  }

  /**
   * The signed-in guest becomes a permanent account: same id, data and quota usage; role guest
   * becomes free, actor type guest becomes `user_type`. Its guest sessions end and a password
   * session opens. The email is unverified (a link is sent) but the account stays usable.
   */
  async convert(caller: Caller, userId: string, input: ConvertGuestRequest, context: RequestContext): Promise<GuestConversion> {
    const { db, clock, hasher, sessions, signIn, settings } = this.deps;
    // Only the guest itself: anyone else learns nothing about the id.
    if (caller.sub !== userId) throw new AppError('user_not_found', { detail: 'No such user.' });
    const guest = await usersRepo.findLiveRecord(db, userId);
    if (!guest) throw new AppError('user_not_found', { detail: 'No such user.' });
    if (!guest.is_guest) throw new AppError('not_a_guest', { detail: 'This account is already a permanent account.' });
    const actorType = await this.checkInput(input);
    const email = normalizeEmail(input.email);
    if (await usersRepo.findLiveByEmail(db, email)) throw emailTaken();
    const passwordHash = await hasher.hash(input.password);
    const now = clock.now();

    let user: UserRecord;
    try {
      user = await sessions.transaction(async (trx) => {
        const current = await usersRepo.findLiveRecord(trx, userId, { lock: true });
        if (!current) throw new AppError('user_not_found', { detail: 'No such user.' });
        // A concurrent conversion of the same guest may have won.
        if (!current.is_guest) throw new AppError('not_a_guest', { detail: 'This account is already a permanent account.' });
        if (await usersRepo.findLiveByEmail(trx, email)) throw emailTaken();
        const converted = await provisionAccount(trx, clock, {
          user: {
            update: {
              id: userId,
              changes: {
                email,
                password_hash: passwordHash,
                is_guest: false,
                first_name: input.first_name ?? current.first_name,
                last_name: input.last_name ?? current.last_name,
                language: input.language ?? current.language,
                terms_accepted_at: now,
                email_verified_at: null,
              },
            },
          },
          actorType: actorType.name,
          role: defaultRole,
          replacing: { actorType: guestActorType, role: guestRole },
          audit: [{ event: 'guest.converted', sessionId: caller.sid, identifier: email, details: { user_type: actorType.name } }],
          context,
        });
        await emailVerification.send(trx, clock, settings.appUrl, converted);
        // Every session of the user is a guest session, acting as a type it no longer holds.
        await sessions.revoke({ userId }, 'guest_converted', trx);
        return converted;
      });
    } catch (err) {
      // A registration of the same email committed between the check and the update.
      if (isUniqueViolation(err)) throw emailTaken();
      throw err;
    }
    const { tokens } = await signIn.completeWithoutChallenge({
      user,
      method: 'password',
      amr: firstFactorAmr('password'),
      actorType: actorType.name,
      held: [actorType],
      rememberMe: true,
      deviceId: caller.device_id,
      context,
      notifyNewDevice: false,
    });
    return { ...tokens, user: await userDetail(db, user, now) };
  }

  /**
   * The registration rules, and no type that requires 2FA: the conversion answer has no room for
   * an MFA challenge, so such accounts register and log in instead.
   */
  private async checkInput(input: ConvertGuestRequest): Promise<ActorTypeRow> {
    const actorType = await checkSignup(this.deps.db, input, this.deps.settings.defaultActorType);
    if (actorPolicy.requiresSecondFactor([actorType])) {
      throw new AppError('actor_type_not_allowed', { detail: `Accounts of type '${actorType.name}' need two-factor authentication: register and log in instead.`, errors: [{ path: '/body/user_type', message: 'requires 2FA' }] });
    }
    return actorType;
  }
}
