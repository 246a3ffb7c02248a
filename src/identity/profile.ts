import { isDeepStrictEqual } from 'node:util';
import type { Knex } from 'knex';
import type { ProfileUpdateRequest } from '../../sdk/src/types.gen.js';
import { AppError } from '../shared/errors.js';
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
  // A verified phone is a sign-in identifier: it changes only by proving the new number (PUT /auth/phone).
  if (current.phone_verified_at && changes.some((c) => c.column === 'phone' && c.value !== current.phone)) {
    throw new AppError('field_not_editable', {
      detail: 'A verified phone number changes only through phone verification (purpose recovery, then PUT /api/v1/auth/phone).',
      errors: [{ path: '/body/phone', message: 'is verified; use phone verification to change it' }],
    });
  }
  const user = await usersRepo.updateRecord(trx, current.id, { ...Object.fromEntries(changes.map((c) => [c.column, c.value])), updated_at: now });
  const before = current as unknown as Record<string, unknown>;
  const fields = changes.filter((c) => !isDeepStrictEqual(before[c.column], c.value)).map((c) => c.field);
  return { user: user as unknown as T, fields };
}
