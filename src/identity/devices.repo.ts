import type { Knex } from 'knex';
import { keysetPage, type Page, type PageRequest } from '../shared/pagination.js';

/** A row of `devices`: a device an account signed in from (README "Devices"). */
export interface DeviceRow {
  id: string;
  user_id: string;
  name: string;
  type: string;
  public_key: string | null;
  push_token: string | null;
  user_agent: string | null;
  ip: string | null;
  /** When a sign-in from the device first completed (null: one is still paused, at 2FA). */
  verified_at: Date | null;
  last_active_at: Date;
  created_at: Date;
  updated_at: Date;
  revoked_at: Date | null;
}

/** What a sign-in says of its device (the spec's `DeviceInfo`) and where it came from. */
export interface DeviceSighting {
  id?: string;
  name: string;
  type: string;
  public_key?: string;
  push_token?: string;
  user_agent: string | null;
  ip: string | null;
}

/** `devices`. Only live (unrevoked) devices are ever matched, listed or touched. */
export const devicesRepo = {
  /**
   * The user's live device this sighting is: the one it names by id, else the one with its
   * public key, else (when it has no key) one with the same name, type and user agent and no key.
   */
  async findMatch(trx: Knex, userId: string, seen: DeviceSighting): Promise<DeviceRow | undefined> {
    const live = () => trx<DeviceRow>('devices').where({ user_id: userId }).whereNull('revoked_at');
    if (seen.id) {
      const byId = await live().where({ id: seen.id }).first();
      if (byId) return byId;
    }
    if (seen.public_key) return live().where({ public_key: seen.public_key }).orderBy('created_at', 'desc').first();
    return live()
      .where({ name: seen.name, type: seen.type })
      .whereNull('public_key')
      .whereRaw('user_agent is not distinct from ?', [seen.user_agent])
      .orderBy('created_at', 'desc')
      .first();
  },

  async insert(trx: Knex, userId: string, seen: DeviceSighting, now: Date): Promise<DeviceRow> {
    const [row] = await trx<DeviceRow>('devices')
      .insert({
        user_id: userId,
        name: seen.name,
        type: seen.type,
        public_key: seen.public_key ?? null,
        push_token: seen.push_token ?? null,
        user_agent: seen.user_agent,
        ip: seen.ip,
        verified_at: null,
        last_active_at: now,
        created_at: now,
        updated_at: now,
      })
      .returning('*');
    return row as DeviceRow;
  },

  /** Records a new sighting of a known device: its name, type, keys given and where it is now. */
  async update(trx: Knex, id: string, seen: DeviceSighting, now: Date): Promise<void> {
    await trx('devices')
      .where({ id })
      .update({
        name: seen.name,
        type: seen.type,
        user_agent: seen.user_agent,
        ip: seen.ip,
        last_active_at: now,
        updated_at: now,
        ...(seen.public_key ? { public_key: seen.public_key } : {}),
        ...(seen.push_token ? { push_token: seen.push_token } : {}),
      });
  },

  /** A sign-in from the device completed: it is verified and active now; false when it was revoked meanwhile. */
  async markSignedIn(trx: Knex, id: string, ip: string | null, now: Date): Promise<boolean> {
    const rows: Array<{ id: string }> = await trx('devices')
      .where({ id })
      .whereNull('revoked_at')
      .update({ verified_at: trx.raw('coalesce(verified_at, ?)', [now]), last_active_at: now, updated_at: now, ...(ip ? { ip } : {}) })
      .returning('id');
    return rows.length === 1;
  },

  /** The user's live device, locked until the transaction ends; undefined for anyone else's. */
  async lockLive(trx: Knex.Transaction, id: string, userId: string): Promise<DeviceRow | undefined> {
    return trx<DeviceRow>('devices').where({ id, user_id: userId }).whereNull('revoked_at').forUpdate().first();
  },

  async revoke(trx: Knex, id: string, reason: string, now: Date): Promise<void> {
    await trx('devices').where({ id }).update({ revoked_at: now, revoked_reason: reason, updated_at: now });
  },

  /** The user's live devices, newest first, a page at a time. */
  async listLive(db: Knex, userId: string, page: PageRequest): Promise<Page<DeviceRow>> {
    return keysetPage<DeviceRow>(db, db('devices').select('*').where({ user_id: userId }).whereNull('revoked_at'), page);
  },
};
