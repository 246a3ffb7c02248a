import type { Knex } from 'knex';
import type { Clock } from '../infra/clock.js';
import type { RequestContext } from '../shared/request-context.js';
import { recordAudit } from './audit-trail.js';
import { devicesRepo, type DeviceSighting } from './devices.repo.js';
import type { DeviceInput } from './sessions/sessions.js';
import { identifierOf, type UserRow } from './users.repo.js';

/**
 * Puts the device a sign-in names in the user's registry, once its first factor is proven: a
 * known live device (by id, public key, or name, type and user agent) is updated, anything else
 * is added, unverified until a sign-in from it completes, with its `device.added` audit row.
 * Returns the device's id.
 */
export async function registerDevice(db: Knex, clock: Clock, user: UserRow, device: DeviceInput, context: RequestContext): Promise<string> {
  const userAgent = context.userAgent?.slice(0, 512) ?? null;
  const seen: DeviceSighting = {
    id: device.id,
    name: device.name || userAgent?.slice(0, 100) || 'Unnamed device',
    type: device.type ?? 'other',
    public_key: device.public_key,
    push_token: device.push_token,
    user_agent: userAgent,
    ip: context.ip?.slice(0, 64) ?? null,
  };
  return db.transaction(async (trx) => {
    const now = clock.now();
    const known = await devicesRepo.findMatch(trx, user.id, seen);
    if (known) {
      await devicesRepo.update(trx, known.id, seen, now);
      return known.id;
    }
    const added = await devicesRepo.insert(trx, user.id, seen, now);
    await recordAudit(trx, clock, {
      event: 'device.added',
      userId: user.id,
      identifier: identifierOf(user),
      context,
      details: { device_id: added.id, name: added.name, type: added.type },
    });
    return added.id;
  });
}
