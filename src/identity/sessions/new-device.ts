import type { Knex } from 'knex';
import type { Clock } from '../../infra/clock.js';
import { notifyUser } from '../notify.js';
import type { UserRow } from '../users.repo.js';
import { sessionsRepo, type DeviceSeen } from './sessions.repo.js';

/** How a device is named in the new-device email: its name and/or user agent. */
function deviceLabel(seen: DeviceSeen): string {
  if (seen.device_name && seen.user_agent) return `${seen.device_name} (${seen.user_agent})`;
  return seen.device_name || seen.user_agent || 'unknown device';
}

/**
 * Notifies the user (by email, or by SMS without one) when a session opens from a device never
 * seen on the account: an earlier session exists, but none with this user agent and device
 * name. The first session is silent. Returns whether the device is new (the first session
 * included), for the audit row.
 */
export async function notifyIfNewDevice(trx: Knex.Transaction, clock: Clock, appUrl: string, user: UserRow, seen: DeviceSeen, now: Date): Promise<boolean> {
  const { earlier, same } = await sessionsRepo.deviceHistory(trx, user.id, seen);
  const newDevice = same === 0;
  if (earlier === 0 || !newDevice) return newDevice;
  const params = { time: now.toISOString().replace('T', ' ').slice(0, 16), device: deviceLabel(seen), ip: seen.ip || 'unknown' };
  await notifyUser(trx, clock, user, 'new_device_sign_in', params, `${appUrl}/sessions`);
  return newDevice;
}
