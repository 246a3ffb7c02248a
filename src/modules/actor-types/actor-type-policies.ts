import type { Knex } from 'knex';
import type { ActorType, ActorTypeList, ActorTypePolicy } from '../../../sdk/src/types.gen.js';
import { actorPolicy } from '../../identity/actor-policy.js';
import { actorTypesRepo, toActorTypeDto } from '../../identity/actor-types.repo.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { requirePermission } from '../../identity/authorize.js';
import type { Clock } from '../../infra/clock.js';
import { AppError } from '../../shared/errors.js';
import type { RequestContext } from '../../shared/request-context.js';

export const writeActorTypesPermission = 'sesame:write:actor_types';

/** The actor-type catalogue: its public listing and its edition by administrators. */
export class ActorTypePolicies {
  private readonly db: Knex;
  private readonly clock: Clock;

  constructor(deps: { db: Knex; clock: Clock }) {
    ({ db: this.db, clock: this.clock } = deps);
  }

  async list(): Promise<ActorTypeList> {
    return { items: await actorTypesRepo.listPublic(this.db), next_cursor: null };
  }

  /** Creates or fully replaces `name`'s policy; audited in the same transaction. */
  async put(caller: { sub: string; sid: string }, name: string, policy: ActorTypePolicy, context: RequestContext): Promise<{ actorType: ActorType; created: boolean }> {
    await requirePermission(this.db, this.clock, caller.sub, writeActorTypesPermission);
    const errors = actorPolicy.editViolations(name, policy);
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
