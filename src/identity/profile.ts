import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';
import type { ProfileUpdateRequest } from '../../sdk/src/types.gen.js';
import { usersRepo, type UserRow } from './users.repo.js';

/** One field a profile patch sets: its name as the API shows it, its column and its new value. */
export interface ProfileChange {
  field: string;
  column: string;
  value: unknown;
}

const profileColumns = ['first_name', 'last_name', 'display_name', 'phone', 'language', 'avatar_url'] as const;

/** The profile fields a patch sets (PATCH /auth/profile; PATCH /users/{user_id} adds metadata). */
export function profileChanges(patch: ProfileUpdateRequest): ProfileChange[] {
  const changes: ProfileChange[] = profileColumns.filter((f) => patch[f] !== undefined).map((f) => ({ field: f, column: f, value: patch[f] }));
  if (patch.consents?.analytics !== undefined) changes.push({ field: 'consents.analytics', column: 'analytics_consent', value: patch.consents.analytics });
  if (patch.consents?.marketing !== undefined) changes.push({ field: 'consents.marketing', column: 'marketing_consent', value: patch.consents.marketing });
  return changes;
}

/**
 * Writes the changes on `current` (read locked in `trx`) and bumps updated_at; returns the new
 * row and the names of the fields whose value changed, for the audit row (never the values).
 */
export async function applyProfileChanges<T extends UserRow>(trx: Knex.Transaction, current: T, changes: ProfileChange[], now: Date): Promise<{ user: T; fields: string[] }> {
  const user = await usersRepo.updateRecord(trx, current.id, { ...Object.fromEntries(changes.map((c) => [c.column, c.value])), updated_at: now });
  const before = current as unknown as Record<string, unknown>;
  const fields = changes.filter((c) => !isDeepStrictEqual(before[c.column], c.value)).map((c) => c.field);
  return { user: user as unknown as T, fields };
}
