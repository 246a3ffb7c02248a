import type { Knex } from 'knex';
import type { Clock } from '../../infra/clock.js';
import { enqueueMessage } from '../../infra/messages/outbox.js';
import type { UserRow } from '../users/users.repo.js';

export interface DeviceSeen {
  device_name: string | null;
  user_agent: string | null;
  ip: string | null;
}

/** How a device is named in the new-device email: its name and/or user agent. */
function deviceLabel(seen: DeviceSeen): string {
  if (seen.device_name && seen.user_agent) return `${seen.device_name} (${seen.user_agent})`;
  return seen.device_name || seen.user_agent || 'unknown device';
}

/**
 * Whether a device was never seen on the account (no earlier session with this user agent and
 * device name; the very first session counts as new), and whether it is the first session.
 */
async function deviceNovelty(trx: Knex.Transaction, userId: string, seen: DeviceSeen): Promise<{ firstSession: boolean; newDevice: boolean }> {
  const counts: { earlier: number; same: number } | undefined = await trx('sessions')
    .where({ user_id: userId })
    .first(
      trx.raw('count(*)::int as earlier'),
      trx.raw('(count(*) filter (where user_agent is not distinct from ? and device_name is not distinct from ?))::int as same', [seen.user_agent, seen.device_name]),
    );
  return { firstSession: !counts || counts.earlier === 0, newDevice: !counts || counts.same === 0 };
}

/**
 * Emails the user when a session opens from a device never seen on the account: an earlier
 * session exists, but none with this user agent and device name. The first session is silent.
 * Returns whether the device is new (the first session included), for the audit row.
 */
export async function notifyIfNewDevice(trx: Knex.Transaction, clock: Clock, appUrl: string, user: UserRow, seen: DeviceSeen, now: Date): Promise<boolean> {
  const { firstSession, newDevice } = await deviceNovelty(trx, user.id, seen);
  if (!user.email || firstSession || !newDevice) return newDevice;
  const link = `${appUrl}/sessions`;
  await enqueueMessage(trx, clock, {
    channel: 'email',
    to: user.email,
    template: 'new_device_sign_in',
    language: user.language,
    params: {
      first_name: user.first_name ?? '',
      time: now.toISOString().replace('T', ' ').slice(0, 16),
      device: deviceLabel(seen),
      ip: seen.ip || 'unknown',
      link,
    },
    data: { link },
  });
  return newDevice;
}
