import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { defaultRole, provisionAccount } from '../../identity/accounts.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { emailVerification } from '../../identity/email-verification.js';
import { checkSignup } from '../../identity/signup-rules.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { normalizeEmail, toUserDto, usersRepo, type UserDto, type UserRow } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { enqueueMessage, recentMessages } from '../../infra/messages/outbox.js';
import type { Language } from '../../infra/messages/templates.js';
import type { Metrics } from '../../infra/metrics.js';
import type { PasswordHasher } from '../../infra/passwords.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import { isUniqueViolation } from '../../infra/pg-errors.js';

export interface RegisterInput {
  email: string;
  password: string;
  password_confirm: string;
  first_name: string;
  last_name: string;
  phone?: string;
  user_type?: string;
  accept_terms: boolean;
  language?: Language;
}

export interface RegistrationSettings {
  appUrl: string;
  defaultActorType: string;
  revealExistingEmail: boolean;
}

export interface RegistrationDeps {
  db: Knex;
  clock: Clock;
  hasher: PasswordHasher;
  metrics: Metrics;
  settings: RegistrationSettings;
}

type Registered = { user: UserDto; verification_email_sent: true };

/** Sign-up with an email and a password, and the proof of the address (README "The account flow"). */
export class Registration {
  constructor(private readonly deps: RegistrationDeps) {}

  async register(input: RegisterInput, context: RequestContext): Promise<Registered> {
    const { metrics } = this.deps;
    const stopTimer = metrics.registerDuration.startTimer();
    try {
      return await this.createAccount(input, context);
    } catch (err) {
      if (err instanceof AppError) metrics.registerErrors.inc({ error_type: err.code });
      throw err;
    } finally {
      stopTimer();
    }
  }

  /** Uses up a verification link: the account becomes active and its email verified. */
  async verifyEmail(token: string, context: RequestContext): Promise<UserDto> {
    const { db, clock, metrics } = this.deps;
    const now = clock.now();
    const result = await db.transaction(async (trx) => {
      const userId = await emailVerification.consume(trx, token, now);
      const user = await usersRepo.findLiveById(trx, userId);
      if (!user) throw new AppError('verification_token_invalid', { detail: 'This verification link is not valid.' });
      const updated = await usersRepo.update(trx, user.id, {
        email_verified_at: user.email_verified_at ?? now,
        status: user.status === 'pending_verification' ? 'active' : user.status,
        updated_at: now,
      });
      await recordAudit(trx, clock, { event: 'email.verified', userId: user.id, identifier: user.email, context });
      return { user: updated, actorTypes: (await actorTypesRepo.heldBy(trx, user.id)).map((a) => a.name) };
    });
    metrics.emailVerifications.inc({ status: 'success' });
    return toUserDto(result.user, result.actorTypes);
  }

  /**
   * A new email gets an account and a verification link; an existing one gets the same answer and
   * its owner an "account exists" notice (at most one per accountExistsNoticeIntervalMs). Both run
   * the same statements: the account is provisioned in a savepoint either way, and for an existing
   * email it is a stand-in that is rolled back, so the time taken does not tell either.
   */
  private async createAccount(input: RegisterInput, context: RequestContext): Promise<Registered> {
    const { db, clock, hasher, metrics, settings } = this.deps;
    const actorType = await checkSignup(db, input, settings.defaultActorType);
    const email = normalizeEmail(input.email);
    const language = input.language ?? 'en';
    // Hash before looking the email up, so both answers cost the same.
    const passwordHash = await hasher.hash(input.password);
    const now = clock.now();
    const provision = (trx: Knex.Transaction, asEmail: string) =>
      provisionAccount(trx, clock, {
        user: {
          create: {
            email: asEmail,
            phone: input.phone ?? null,
            password_hash: passwordHash,
            first_name: input.first_name,
            last_name: input.last_name,
            language,
            status: 'pending_verification',
            terms_accepted_at: now,
          },
        },
        actorType: actorType.name,
        role: defaultRole,
        audit: [{ event: 'user.registered', identifier: asEmail, details: { user_type: actorType.name } }],
        context,
      });
    try {
      const outcome = await db.transaction(async (trx) => {
        const existing = await usersRepo.findLiveByEmail(trx, email);
        if (existing && settings.revealExistingEmail) return { existing, created: undefined };
        const created = await trx
          .transaction(async (savepoint) => {
            const user = await provision(savepoint, existing ? standInEmail() : email);
            await emailVerification.send(savepoint, clock, settings.appUrl, user);
            if (existing) throw new StandIn(user);
            return user;
          })
          .catch((err: unknown) => {
            if (err instanceof StandIn) return err.user;
            throw err;
          });
        const notified = await accountExistsNoticeSince(trx, email, new Date(now.getTime() - accountExistsNoticeIntervalMs));
        await enqueueMessage(trx, clock, accountExistsNotice(existing ?? created, settings.appUrl), { when: existing !== undefined && !notified });
        return { existing, created };
      });
      if (!outcome.existing) {
        metrics.registerAttempts.inc({ status: 'success', user_type: actorType.name });
        return { user: toUserDto(outcome.created!, [actorType.name]), verification_email_sent: true };
      }
      return this.answerExisting(outcome.created, email, actorType.name);
    } catch (err) {
      if (isUniqueViolation(err)) {
        // A concurrent registration of the same email won the race: its owner has the account.
        metrics.registerAttempts.inc({ status: 'existing_email', user_type: actorType.name });
        if (settings.revealExistingEmail) throw emailTaken();
        return { user: toUserDto({ ...lookalike(input, language, now), email }, [actorType.name]), verification_email_sent: true };
      }
      throw err;
    }
  }

  /** Existing email: 409 when configured to reveal it, else the same answer as a new account (the stand-in, under the email asked for). */
  private answerExisting(standIn: UserRow | undefined, email: string, userType: string): Registered {
    this.deps.metrics.registerAttempts.inc({ status: 'existing_email', user_type: userType });
    if (!standIn) throw emailTaken();
    return { user: toUserDto({ ...standIn, email }, [userType]), verification_email_sent: true };
  }
}

/** Thrown inside the savepoint of a stand-in account, to roll it back. */
class StandIn extends Error {
  constructor(readonly user: UserRow) {
    super('stand-in account');
  }
}

/** At most one "an account exists with this email" notice per address in this interval. */
export const accountExistsNoticeIntervalMs = 3600 * 1000;

const emailTaken = () => new AppError('email_already_registered', { detail: 'An account already exists with this email.' });

/** An address no account can have (the `.invalid` TLD), for the stand-in that is rolled back. */
function standInEmail(): string {
  return `stand-in-${randomUUID()}@sesame.invalid`;
}

function accountExistsNotice(owner: Pick<UserRow, 'email' | 'language' | 'first_name'>, appUrl: string) {
  const link = `${appUrl}/login`;
  return { channel: 'email' as const, to: owner.email!, template: 'account_exists' as const, language: owner.language, params: { first_name: owner.first_name ?? '', link }, data: { link } };
}

/** Whether the owner was sent an "account exists" notice since `since`. */
async function accountExistsNoticeSince(trx: Knex.Transaction, email: string, since: Date): Promise<boolean> {
  return (await recentMessages(trx, { recipient: email, template: 'account_exists', since })) > 0;
}

/** A user as a registration with no account behind it would show it. */
function lookalike(input: RegisterInput, language: Language, now: Date): UserRow {
  return {
    id: randomUUID(),
    email: normalizeEmail(input.email),
    phone: input.phone ?? null,
    password_hash: null,
    first_name: input.first_name,
    last_name: input.last_name,
    display_name: null,
    language,
    avatar_url: null,
    status: 'pending_verification',
    email_verified_at: null,
    phone_verified_at: null,
    is_guest: false,
    analytics_consent: false,
    marketing_consent: false,
    password_changed_at: null,
    mfa_enabled_at: null,
    created_at: now,
    updated_at: now,
    deleted_at: null,
  };
}
