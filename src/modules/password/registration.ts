import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { defaultRole, provisionAccount } from '../../identity/accounts.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { emailVerification } from '../../identity/email-verification.js';
import { checkSignup } from '../../identity/signup-rules.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { normalizeEmail, toUserDto, usersRepo, type UserDto, type UserRow } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { enqueueMessage } from '../../infra/messages/outbox.js';
import type { Language } from '../../infra/messages/templates.js';
import type { Metrics } from '../../infra/metrics.js';
import type { PasswordHasher } from '../../infra/passwords.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';

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

  private async createAccount(input: RegisterInput, context: RequestContext): Promise<Registered> {
    const { db, clock, hasher, metrics, settings } = this.deps;
    const actorType = await checkSignup(db, input, settings.defaultActorType);
    const email = normalizeEmail(input.email);
    const language = input.language ?? 'en';
    // Hash before looking the email up, so both answers cost the same.
    const passwordHash = await hasher.hash(input.password);
    const now = clock.now();
    try {
      const outcome = await db.transaction(async (trx) => {
        const existing = await usersRepo.findLiveByEmail(trx, email);
        if (existing) return { existing };
        const created = await provisionAccount(trx, clock, {
          user: {
            create: {
              email,
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
          audit: [{ event: 'user.registered', identifier: email, details: { user_type: actorType.name } }],
          context,
        });
        await emailVerification.send(trx, clock, settings.appUrl, created);
        return { created };
      });
      if (outcome.created) {
        metrics.registerAttempts.inc({ status: 'success', user_type: actorType.name });
        return { user: toUserDto(outcome.created, [actorType.name]), verification_email_sent: true };
      }
      return await this.answerExisting(outcome.existing, input, actorType.name, language, now);
    } catch (err) {
      if ((err as { code?: string }).code === '23505') {
        // A concurrent registration of the same email won the race.
        const existing = await usersRepo.findLiveByEmail(db, email);
        if (existing) return this.answerExisting(existing, input, actorType.name, language, now);
      }
      throw err;
    }
  }

  /** Existing email: 409 when configured to reveal it, else the same answer as a new account. */
  private async answerExisting(existing: UserRow, input: RegisterInput, userType: string, language: Language, now: Date): Promise<Registered> {
    const { db, clock, metrics, settings } = this.deps;
    metrics.registerAttempts.inc({ status: 'existing_email', user_type: userType });
    if (settings.revealExistingEmail) {
      throw new AppError('email_already_registered', { detail: 'An account already exists with this email.' });
    }
    await enqueueMessage(db, clock, {
      channel: 'email',
      to: existing.email!,
      template: 'account_exists',
      language: existing.language,
      params: { first_name: existing.first_name ?? '', link: `${settings.appUrl}/login` },
      data: { link: `${settings.appUrl}/login` },
    });
    const lookalike: UserRow = {
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
    return { user: toUserDto(lookalike, [userType]), verification_email_sent: true };
  }
}
