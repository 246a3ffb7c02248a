import type { Knex } from 'knex';
import type { UserImportReport, UserImportResult, UserImportRow } from '../../../sdk/src/types.gen.js';
import { defaultRole, provisionAccount } from '../../identity/accounts.js';
import { actorTypesRepo } from '../../identity/actor-types.repo.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { requirePermission } from '../../identity/authorize.js';
import { normalizeEmail, usersRepo } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import { isVerifiableHash } from '../../infra/passwords.js';
import type { VerifiedAccessToken } from '../../infra/tokens.js';
import type { RequestContext } from '../../shared/request-context.js';
import { adminPermissions } from './admin-permissions.js';
import { isUniqueViolation } from '../../infra/pg-errors.js';

export interface UserImportDeps {
  db: Knex;
  clock: Clock;
  settings: { defaultActorType: string };
}

type Reason = NonNullable<UserImportResult['reason']>;
type Verdict = { outcome: 'skipped' | 'refused'; reason: Reason; userId: string | null };

/**
 * Bulk import (README "Administration"): up to 1,000 accounts in one transaction, each through
 * provisionAccount in its own savepoint, so a row that loses a race to a concurrent sign-up is
 * reported as skipped and the others stand. Password hashes are stored as given once
 * isVerifiableHash accepts them; the first sign-in replaces them with argon2id.
 */
export class UserImport {
  constructor(private readonly deps: UserImportDeps) {}

  async run(caller: Pick<VerifiedAccessToken, 'sub'>, rows: UserImportRow[], context: RequestContext): Promise<UserImportReport> {
    const { db, clock, settings } = this.deps;
    await requirePermission(db, clock, caller.sub, adminPermissions.importUsers);
    const emails = rows.map((r) => normalizeEmail(r.email));
    const ids = rows.flatMap((r) => (r.id ? [r.id.toLowerCase()] : []));
    const [byEmail, byId, knownTypes] = await Promise.all([
      usersRepo.findLiveByEmails(db, emails).then((found) => new Map(found.map((u) => [u.email, u.id]))),
      usersRepo.findByIds(db, ids).then((found) => new Map(found.map((u) => [u.id, u]))),
      actorTypesRepo.existing(db, [...new Set([settings.defaultActorType, ...rows.flatMap((r) => r.actor_types ?? [])])]),
    ]);

    const seenEmails = new Set<string>();
    const seenIds = new Set<string>();
    const verdictOf = (row: UserImportRow, email: string): Verdict | undefined => {
      const id = row.id?.toLowerCase();
      if (seenEmails.has(email) || (id && seenIds.has(id))) return { outcome: 'refused', reason: 'duplicate_in_request', userId: null };
      seenEmails.add(email);
      if (id) seenIds.add(id);
      const existingId = byEmail.get(email);
      if (existingId) return { outcome: 'skipped', reason: id === existingId ? 'id_exists' : 'email_exists', userId: existingId };
      if (id && byId.has(id)) return { outcome: 'refused', reason: 'id_taken', userId: null };
      if (row.password_hash != null && !isVerifiableHash(row.password_hash)) return { outcome: 'refused', reason: 'invalid_password_hash', userId: null };
      if ((row.actor_types ?? [settings.defaultActorType]).some((t) => !knownTypes.has(t))) return { outcome: 'refused', reason: 'unknown_actor_type', userId: null };
      return undefined;
    };

    return db.transaction(async (trx) => {
      const results: UserImportResult[] = [];
      for (const [index, row] of rows.entries()) {
        const email = emails[index]!;
        const verdict = verdictOf(row, email);
        if (verdict) {
          results.push({ index, email, outcome: verdict.outcome, user_id: verdict.userId, reason: verdict.reason });
          continue;
        }
        try {
          const userId = await trx.transaction((savepoint) => this.provision(savepoint, row, email));
          results.push({ index, email, outcome: 'created', user_id: userId, reason: null });
        } catch (err) {
          if (!isUniqueViolation(err)) throw err;
          // Taken since the lookup above (a sign-up or another import): the account exists now.
          results.push({ index, email, outcome: 'skipped', user_id: null, reason: 'email_exists' });
        }
      }
      const count = (outcome: UserImportResult['outcome']) => results.filter((r) => r.outcome === outcome).length;
      const report = { created: count('created'), skipped: count('skipped'), refused: count('refused'), results };
      await recordAudit(trx, clock, {
        event: 'users.imported',
        actorId: caller.sub,
        context,
        details: { rows: rows.length, created: report.created, skipped: report.skipped, refused: report.refused, created_ids: results.flatMap((r) => (r.outcome === 'created' ? [r.user_id] : [])) },
      });
      return report;
    });
  }

  private async provision(trx: Knex.Transaction, row: UserImportRow, email: string): Promise<string> {
    const { clock, settings } = this.deps;
    const now = clock.now();
    const [actorType, ...moreTypes] = row.actor_types ?? [settings.defaultActorType];
    const user = await provisionAccount(trx, clock, {
      user: {
        create: {
          ...(row.id ? { id: row.id.toLowerCase() } : {}),
          email,
          password_hash: row.password_hash ?? null,
          first_name: row.first_name ?? null,
          last_name: row.last_name ?? null,
          display_name: row.display_name ?? null,
          phone: row.phone ?? null,
          avatar_url: row.avatar_url ?? null,
          ...(row.language ? { language: row.language } : {}),
          status: row.email_verified ? 'active' : 'pending_verification',
          email_verified_at: row.email_verified ? now : null,
        },
      },
      actorType: actorType!,
      role: defaultRole,
      // The import's one audit row (users.imported) lists the accounts it created.
      audit: [],
    });
    for (const name of moreTypes) await actorTypesRepo.grant(trx, user.id, name);
    return user.id;
  }
}
