import type { OutgoingMessage } from '../../infra/messages/outbox.js';
import { securityNotice } from '../notify.js';
import type { UserRow } from '../users.repo.js';
import type { DeviceSeen } from './sessions.repo.js';

/** How a device is named in the new-device email: its name and/or user agent. */
function deviceLabel(seen: DeviceSeen): string {
  if (seen.device_name && seen.user_agent) return `${seen.device_name} (${seen.user_agent})`;
  return seen.device_name || seen.user_agent || 'unknown device';
}

/**
 * The notice (by email, or by SMS without one) a session opening from a device never seen on
 * the account sends: queued only when an earlier session exists but none with this user agent
 * and device name (the first session is silent). The statement that opens the session decides
 * that from the sessions it sees (open-statement.ts), so the message is made beforehand.
 */
export function newDeviceNotice(appUrl: string, user: UserRow, seen: DeviceSeen, now: Date): OutgoingMessage | undefined {
  const params = { time: now.toISOString().replace('T', ' ').slice(0, 16), device: deviceLabel(seen), ip: seen.ip || 'unknown' };
  return securityNotice(user, 'new_device_sign_in', params, `${appUrl}/sessions`);
}
