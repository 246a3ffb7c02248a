import type { Knex } from 'knex';
import type { Device, DeviceList } from '../../../sdk/src/types.gen.js';
import { recordAudit } from '../../identity/audit-trail.js';
import { devicesRepo, type DeviceRow } from '../../identity/devices.repo.js';
import type { Sessions } from '../../identity/sessions/sessions.js';
import { usersRepo } from '../../identity/users.repo.js';
import type { Clock } from '../../infra/clock.js';
import type { VerifiedAccessToken } from '../../infra/tokens.js';
import { AppError } from '../../shared/errors.js';
import type { PageRequest } from '../../shared/pagination.js';
import type { RequestContext } from '../../shared/request-context.js';

export interface DevicesDeps {
  db: Knex;
  clock: Clock;
  sessions: Pick<Sessions, 'revokeAudited' | 'transaction'>;
}

type Caller = Pick<VerifiedAccessToken, 'sub' | 'sid' | 'device_id'>;

function toDevice(row: DeviceRow, currentDeviceId: string | undefined): Device {
  return {
    id: row.id,
    name: row.name,
    type: row.type as Device['type'],
    public_key: row.public_key,
    has_push_token: row.push_token !== null,
    ip: row.ip,
    verified: row.verified_at !== null,
    current: row.id === currentDeviceId,
    last_active_at: row.last_active_at.toISOString(),
    created_at: row.created_at.toISOString(),
  };
}

/** The signed-in user's device registry (README "Devices"): the list, and revocation. */
export class DevicesService {
  constructor(private readonly deps: DevicesDeps) {}

  async list(caller: Caller, page: PageRequest): Promise<DeviceList> {
    const { items, next_cursor } = await devicesRepo.listLive(this.deps.db, caller.sub, page);
    return { items: items.map((d) => toDevice(d, caller.device_id)), next_cursor };
  }

  /**
   * Revokes the device and, in the same transaction, every session opened on it; the revocations
   * are published to every instance before this answers, so its tokens stop working everywhere
   * at once. Another user's device, or a revoked one, is 404.
   */
  async revoke(caller: Caller, deviceId: string, context: RequestContext): Promise<{ revoked_sessions: number }> {
    const { db, clock, sessions } = this.deps;
    const revoked = await sessions.transaction(async (trx) => {
      const device = await devicesRepo.lockLive(trx, deviceId, caller.sub);
      if (!device) throw new AppError('device_not_found', { detail: 'No such device on this account.' });
      await devicesRepo.revoke(trx, device.id, 'user_revoked', clock.now());
      const ids = await sessions.revokeAudited(trx, caller.sub, { deviceRef: device.id }, 'device_revoked', context);
      await recordAudit(trx, clock, {
        event: 'device.revoked',
        userId: caller.sub,
        sessionId: caller.sid,
        identifier: await usersRepo.identifierOf(trx, caller.sub),
        context,
        details: { device_id: device.id, name: device.name, type: device.type, revoked_sessions: ids.length },
      });
      return ids.length;
    });
    return { revoked_sessions: revoked };
  }
}
