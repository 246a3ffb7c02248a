import { randomBytes } from 'node:crypto';
import type { Knex } from 'knex';
import QRCode from 'qrcode';
import type { QrChallenge, QrChallengeDetails, QrChallengeRequest, QrChallengeStatus, QrDecision } from '../../../sdk/src/types.gen.js';
import { actorPolicy } from '../../identity/actor-policy.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { firstFactorAmr } from '../../identity/auth-method.js';
import type { Sessions } from '../../identity/sessions/sessions.js';
import { sessionsRepo } from '../../identity/sessions/sessions.repo.js';
import { loginAnswer, type SignInPipeline } from '../../identity/sign-in.js';
import { identifierOf, usersRepo } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import type { Metrics } from '../../infra/metrics.js';
import { hashOpaqueToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';
import { qrChallengesRepo as repo, type QrChallengeRow } from './qr-challenges.repo.js';

/** A challenge lives 2 minutes; a poller waits `interval` seconds between polls. */
export const challengeLifetimeSeconds = 120;
export const pollIntervalSeconds = 2;

/** Prefixed opaque secrets (256 bits): the QR code's challenge and the new device's poll token. */
const challengePrefix = 'qrc_';
const pollTokenPrefix = 'qrp_';
export const pollTokenFormat = /^qrp_[A-Za-z0-9_-]{43}$/;
const newSecret = (prefix: string) => `${prefix}${randomBytes(32).toString('base64url')}`;

export interface QrLoginDeps {
  db: Knex;
  clock: Clock;
  sessions: Pick<Sessions, 'assertLive'>;
  signIn: SignInPipeline;
  metrics: Pick<Metrics, 'qrLogins'>;
}

/** The signed-in session deciding, as its access token names it. */
export interface Approver {
  sub: string;
  sid: string;
  actor_type: string;
  is_guest: boolean;
}

const notFound = () => new AppError('qr_challenge_not_found', { detail: 'No such QR challenge: scan the code again.' });
const expired = () => new AppError('qr_challenge_expired', { detail: 'This QR code has expired: ask for a new one on the other screen.' });
const used = () => new AppError('qr_challenge_used', { detail: 'This QR code has already been used or is being decided on another device.' });

/**
 * Cross-device sign-in by QR code (README "QR login"), built against QRLjacking (RFC 8628
 * §5.4): the challenge is single use and lives 2 minutes; the signed-in device first reads who
 * is asking, and only the session that read it decides; guests, impersonations and sessions
 * younger than the challenge cannot approve; the sign-in is delivered once, to the holder of the
 * poll token, by an atomic take in PostgreSQL; the new session has its own device, acts as the
 * approver's actor type, records `amr: ["mca"]`, and still meets the account's second factor.
 */
export class QrLogin {
  constructor(private readonly deps: QrLoginDeps) {}

  async create(input: QrChallengeRequest, context: RequestContext): Promise<QrChallenge> {
    const { db, clock, metrics } = this.deps;
    const now = clock.now();
    const challenge = newSecret(challengePrefix);
    const pollToken = newSecret(pollTokenPrefix);
    const id = await repo.insert(db, {
      challenge_hash: hashOpaqueToken(challenge),
      poll_token_hash: hashOpaqueToken(pollToken),
      device_name: input.device?.name ?? null,
      device_type: input.device?.type ?? null,
      public_key: input.device?.public_key ?? null,
      push_token: input.device?.push_token ?? null,
      remember_me: input.remember_me ?? true,
      ip: context.ip?.slice(0, 64) ?? null,
      user_agent: context.userAgent?.slice(0, 512) ?? null,
      created_at: now,
      expires_at: new Date(now.getTime() + challengeLifetimeSeconds * 1000),
    });
    metrics.qrLogins.inc({ status: 'created' });
    return { challenge_id: id, challenge, qr_code: await QRCode.toDataURL(challenge), expires_in: challengeLifetimeSeconds, poll_token: pollToken, interval: pollIntervalSeconds };
  }

  /** The id of the challenge a poll token is for; undefined for a token of no challenge. */
  async challengeOfPollToken(pollToken: string): Promise<string | undefined> {
    return (await repo.findByPollToken(this.deps.db, hashOpaqueToken(pollToken)))?.id;
  }

  /**
   * The new device's poll. An approved challenge is taken by exactly one poll, which signs in;
   * any other poll only reads the state, at most once per interval (429 slow_down otherwise).
   */
  async poll(challengeId: string, context: RequestContext): Promise<QrChallengeStatus> {
    const { db, clock } = this.deps;
    const now = clock.now();
    const taken = await repo.take(db, challengeId, now);
    if (taken) return { status: 'approved', login: await this.signInTaken(taken, context) };
    const row = await repo.pace(db, challengeId, now, pollIntervalSeconds * 1000);
    if (!row) {
      throw new AppError('slow_down', { detail: `Poll at most every ${pollIntervalSeconds} seconds.`, headers: { 'Retry-After': String(pollIntervalSeconds) } });
    }
    if (row.status === 'consumed' || row.status === 'refused') return { status: row.status };
    if (row.expires_at <= now) return { status: 'expired' };
    return { status: 'pending', interval: pollIntervalSeconds, expires_in: Math.ceil((row.expires_at.getTime() - now.getTime()) / 1000) };
  }

  /** The signed-in device reads who is asking, and becomes the only session that may decide. */
  async inspect(approver: Approver, challenge: string, context: RequestContext): Promise<QrChallengeDetails> {
    const { db, clock } = this.deps;
    const now = clock.now();
    const row = await this.decidable(approver, challenge, now);
    const claimed = await repo.claimInspection(db, row.id, approver.sid, now);
    if (!claimed) throw used();
    return {
      challenge_id: row.id,
      requester: { ip: row.ip, user_agent: row.user_agent, device_name: row.device_name, device_type: row.device_type, created_at: row.created_at.toISOString() },
      same_ip: row.ip !== null && row.ip === (context.ip?.slice(0, 64) ?? null),
      expires_in: Math.ceil((row.expires_at.getTime() - now.getTime()) / 1000),
    };
  }

  /** Approves or refuses, once, from the session that inspected the challenge; audited either way. */
  async decide(approver: Approver, challenge: string, approve: boolean, context: RequestContext): Promise<QrDecision> {
    const { db, clock, metrics } = this.deps;
    const now = clock.now();
    const row = await this.decidable(approver, challenge, now);
    if (row.inspected_by_session === null) throw new AppError('qr_inspection_required', { detail: 'Show the user who is asking (/auth/qr/inspect) before deciding.' });
    if (row.inspected_by_session !== approver.sid) throw used();
    const status = approve ? 'approved' : 'refused';
    await db.transaction(async (trx) => {
      const decided = await repo.decide(trx, row.id, status, { userId: approver.sub, sessionId: approver.sid, actorType: approver.actor_type }, now);
      if (!decided) throw used();
      const user = await usersRepo.findLiveById(trx, approver.sub);
      await recordAudit(trx, clock, {
        event: approve ? 'qr.approved' : 'qr.refused',
        userId: approver.sub,
        sessionId: approver.sid,
        identifier: user ? identifierOf(user) : null,
        context,
        details: { challenge_id: row.id, requester_ip: row.ip, requester_user_agent: row.user_agent, requester_device: row.device_name, actor_type: approver.actor_type },
      });
    });
    metrics.qrLogins.inc({ status });
    return { challenge_id: row.id, status };
  }

  /** The challenge, if this session may still decide it (else the reason, as an error). */
  private async decidable(approver: Approver, challenge: string, now: Date): Promise<QrChallengeRow> {
    const { db } = this.deps;
    const row = await repo.findByChallenge(db, hashOpaqueToken(challenge));
    if (!row) throw notFound();
    const session = await sessionsRepo.find(db, approver.sid);
    const acting = await actorTypesRepo.find(db, approver.actor_type);
    const refusal = actorPolicy.crossDeviceApprovalRefusal(
      { isGuest: approver.is_guest, method: session?.auth_method ?? 'guest', acting, sessionCreatedAt: session?.created_at ?? now },
      row.created_at,
    );
    if (refusal === 'method_not_allowed') throw new AppError('auth_method_not_allowed', { detail: `Sessions acting as '${approver.actor_type}' cannot sign other devices in.` });
    if (refusal === 'session_too_recent') throw new AppError('qr_approval_not_allowed', { detail: 'This session started after the QR code was made: only a session signed in before it can approve.' });
    if (refusal) throw new AppError('qr_approval_not_allowed', { detail: 'Guest and impersonation sessions cannot sign other devices in.' });
    if (row.status !== 'pending') throw used();
    if (row.expires_at <= now) throw expired();
    return row;
  }

  /**
   * The sign-in of a challenge this poll took: the approver's account acting as the approver's
   * actor type, on the new device, through the sign-in pipeline. The approving session must
   * still be live: revoking it before the poll withholds the sign-in.
   */
  private async signInTaken(row: QrChallengeRow, context: RequestContext) {
    const { db, sessions, signIn, metrics } = this.deps;
    await sessions.assertLive({ sid: row.approver_session_id!, sub: row.approver_user_id! });
    const user = await usersRepo.findLiveById(db, row.approver_user_id!);
    if (!user) throw new AppError('session_revoked', { detail: 'The approving account no longer exists.' });
    const result = await signIn.complete({
      user,
      method: 'qr',
      amr: firstFactorAmr('qr'),
      actorType: row.approver_actor_type!,
      rememberMe: row.remember_me,
      device: {
        name: row.device_name ?? undefined,
        type: row.device_type ?? undefined,
        public_key: row.public_key ?? undefined,
        push_token: row.push_token ?? undefined,
      },
      context,
    });
    metrics.qrLogins.inc({ status: 'delivered' });
    return loginAnswer(result);
  }
}
