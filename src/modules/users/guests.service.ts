import type { Knex } from 'knex';
import type { ConvertGuestRequest, GuestConversion, GuestRequest, GuestSession } from '../../../sdk/src/types.gen.js';
import type { Clock } from '../../infra/clock.js';
import type { PasswordHasher } from '../../infra/passwords.js';
import type { VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import { recordAudit, type RequestContext } from '../audit/audit.js';
import { checkSignup } from '../auth/signup-rules.js';
import { sendVerificationEmail } from '../auth/verification.js';
import { syncQuotas } from '../quotas/quota-sync.js';
import { quotasOf } from '../quotas/quota-view.js';
import { grantRoleByName, revokeRoleByName } from '../rbac/access.js';
import type { Sessions } from '../sessions/sessions.service.js';
import { userDetail } from './user-detail.js';
import { normalizeEmail, usersRepo, type ActorTypeRow, type UserRecord } from './users.repo.js';

export interface GuestSettings {
  appUrl: string;
  defaultActorType: string;
}

const guestActorType = 'guest';
const guestRole = 'guest';
/** The role a converted guest gets, as a registered account does. */
const permanentRole = 'free';

type Caller = Pick<VerifiedAccessToken, 'sub' | 'sid' | 'device_id'>;

const emailTaken = () => new AppError('email_already_registered', { detail: 'An account already exists with this email.' });

/** Guests (seed 004): created without credentials, later turned into permanent accounts in place. */
export class GuestsService {
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
    private readonly hasher: PasswordHasher,
    private readonly sessions: Sessions,
    private readonly settings: GuestSettings,
  ) {}

  /** A new guest with role `guest`, its quotas and a remembered session (the device id is kept on it). */
  async create(input: GuestRequest, context: RequestContext): Promise<GuestSession> {
    // The actor-type policy comes before anything is created.
    const actorType = await usersRepo.findActorType(this.db, guestActorType);
    if (!actorType?.allowed_methods.includes('guest')) {
      throw new AppError('auth_method_not_allowed', { detail: 'Guest sessions are turned off on this service.' });
    }
    const now = this.clock.now();
    const user = await this.db.transaction(async (trx) => {
      const [row] = await trx<UserRecord>('users')
        .insert({ email: null, password_hash: null, is_guest: true, status: 'active', language: input.locale ?? 'en', created_at: now, updated_at: now })
        .returning('*');
      const created = row as UserRecord;
      await usersRepo.grantActorType(trx, created.id, actorType.name);
      await grantRoleByName(trx, created.id, guestRole, { now });
      await syncQuotas(trx, created.id, now);
      await recordAudit(trx, this.clock, { event: 'guest.created', userId: created.id, context, details: { device_id: input.device_id ?? null } });
      return created;
    });
    const { tokens } = await this.sessions.open({
      user,
      actorType,
      authMethod: 'guest',
      amr: [],
      rememberMe: true,
      deviceId: input.device_id,
      ip: context.ip,
      userAgent: context.userAgent,
      notifyNewDevice: false,
    });
    return { ...tokens, user: await userDetail(this.db, user, now), quotas: await quotasOf(this.db, user.id, now) };
  }

  /**
   * The signed-in guest becomes a permanent account: same id, data and quota usage; role guest
   * becomes free, actor type guest becomes `user_type`. Its guest sessions end and a password
   * session opens. The email is unverified (a link is sent) but the account stays usable.
   */
  async convert(caller: Caller, userId: string, input: ConvertGuestRequest, context: RequestContext): Promise<GuestConversion> {
    // Only the guest itself: anyone else learns nothing about the id.
    if (caller.sub !== userId) throw new AppError('user_not_found', { detail: 'No such user.' });
    const guest = await usersRepo.findLiveRecord(this.db, userId);
    if (!guest) throw new AppError('user_not_found', { detail: 'No such user.' });
    if (!guest.is_guest) throw new AppError('not_a_guest', { detail: 'This account is already a permanent account.' });
    const actorType = await this.checkInput(input);
    const email = normalizeEmail(input.email);
    if (await usersRepo.findLiveByEmail(this.db, email)) throw emailTaken();
    const passwordHash = await this.hasher.hash(input.password);
    const now = this.clock.now();

    let outcome: { user: UserRecord; revoked: string[] };
    try {
      outcome = await this.db.transaction(async (trx) => {
        const current = await usersRepo.findLiveRecord(trx, userId, { lock: true });
        if (!current) throw new AppError('user_not_found', { detail: 'No such user.' });
        // A concurrent conversion of the same guest may have won.
        if (!current.is_guest) throw new AppError('not_a_guest', { detail: 'This account is already a permanent account.' });
        if (await usersRepo.findLiveByEmail(trx, email)) throw emailTaken();
        const user = await usersRepo.updateRecord(trx, userId, {
          email,
          password_hash: passwordHash,
          is_guest: false,
          first_name: input.first_name ?? current.first_name,
          last_name: input.last_name ?? current.last_name,
          language: input.language ?? current.language,
          terms_accepted_at: now,
          email_verified_at: null,
          updated_at: now,
        });
        await usersRepo.removeActorType(trx, userId, guestActorType);
        await usersRepo.grantActorType(trx, userId, actorType.name);
        await revokeRoleByName(trx, userId, guestRole);
        await grantRoleByName(trx, userId, permanentRole, { now });
        // Existing quota rows keep their usage and take the new role's limits.
        await syncQuotas(trx, userId, now);
        await sendVerificationEmail(trx, this.clock, this.settings.appUrl, user);
        await recordAudit(trx, this.clock, { event: 'guest.converted', userId, sessionId: caller.sid, identifier: email, context, details: { user_type: actorType.name } });
        // Every session of the user is a guest session, acting as a type it no longer holds.
        const revoked = await this.sessions.revoke({ userId }, 'guest_converted', trx);
        return { user, revoked };
      });
    } catch (err) {
      // A registration of the same email committed between the check and the update.
      if ((err as { code?: string }).code === '23505') throw emailTaken();
      throw err;
    }
    await this.sessions.markRevoked(outcome.revoked);
    const { tokens } = await this.sessions.open({
      user: outcome.user,
      actorType,
      authMethod: 'password',
      amr: ['pwd'],
      rememberMe: true,
      deviceId: caller.device_id,
      ip: context.ip,
      userAgent: context.userAgent,
      notifyNewDevice: false,
    });
    return { ...tokens, user: await userDetail(this.db, outcome.user, now) };
  }

  /**
   * The registration rules, and no type that requires 2FA: the conversion answer has no room for
   * an MFA challenge, so such accounts register and log in instead.
   */
  private async checkInput(input: ConvertGuestRequest): Promise<ActorTypeRow> {
    const actorType = await checkSignup(this.db, input, this.settings.defaultActorType);
    if (actorType.require_2fa) {
      throw new AppError('actor_type_not_allowed', { detail: `Accounts of type '${actorType.name}' need two-factor authentication: register and log in instead.`, errors: [{ path: '/body/user_type', message: 'requires 2FA' }] });
    }
    return actorType;
  }
}
