import type { Knex } from 'knex';
import type { ActorType, ActorTypeList, ActorTypePolicy } from '../../../sdk/src/types.gen.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import { recordAudit, type RequestContext } from '../audit/audit.js';
import { requirePermission } from '../rbac/authorize.js';
import { actorTypesRepo, toActorTypeDto } from './actor-types.repo.js';

export const writeActorTypesPermission = 'sesame:write:actor_types';

/** Rules no policy may break, whoever edits it (SPEC §3: `admin` requires 2FA and is never self-signup). */
function policyViolations(name: string, policy: ActorTypePolicy): Array<{ path: string; message: string }> {
  if (name !== 'admin') return [];
  const errors: Array<{ path: string; message: string }> = [];
  if (policy.self_signup) errors.push({ path: '/body/self_signup', message: 'must be false for admin' });
  if (!policy.require_2fa) errors.push({ path: '/body/require_2fa', message: 'must be true for admin' });
  return errors;
}

/** The actor-type catalogue: its public listing and its edition by administrators. */
export class ActorTypePolicies {
  constructor(
    private readonly db: Knex,
    private readonly clock: Clock,
  ) {}

  async list(): Promise<ActorTypeList> {
    return { items: await actorTypesRepo.listPublic(this.db), next_cursor: null };
  }

  /** Creates or fully replaces `name`'s policy; audited in the same transaction. */
  async put(caller: { sub: string; sid: string }, name: string, policy: ActorTypePolicy, context: RequestContext): Promise<{ actorType: ActorType; created: boolean }> {
    await requirePermission(this.db, this.clock, caller.sub, writeActorTypesPermission);
    const errors = policyViolations(name, policy);
    if (errors.length) throw new AppError('invalid_actor_type_policy', { detail: `This policy is not allowed for '${name}'.`, errors });
    const now = this.clock.now();
    const { row, created } = await this.db.transaction(async (trx) => {
      const saved = await actorTypesRepo.upsert(trx, name, policy, now);
      await recordAudit(trx, this.clock, {
        event: 'actor_type.updated',
        userId: caller.sub,
        sessionId: caller.sid,
        context,
        details: { name, created: saved.created, policy: { ...policy, description: saved.row.description } },
      });
      return saved;
    });
    return { actorType: toActorTypeDto(row), created };
  }
}
