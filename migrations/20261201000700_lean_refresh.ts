import type { Knex } from 'knex';

/**
 * A refresh in one round trip (SessionRotation.refresh): `sesame_refresh` finds the presented
 * token's session, locks it, reads the family, the user and their actor types, and rotates.
 *
 * It is VOLATILE plpgsql, so under READ COMMITTED each of its statements takes a fresh snapshot:
 * a refresh that waited for the session's lock reads the family as the one before it left it
 * (a single CTE statement would read it as it was before the wait, and fork it).
 *
 * It decides only what the family decides (unknown token, session ended or expired, reuse, grace
 * for the immediate predecessor). What policy decides (a suspended account, a withdrawn sign-in
 * method, an actor type no longer held) stays in JS: the function returns that input as `gate`,
 * with a key (a hash of it), and rotates only when JS already let that very input through
 * (`p_approved`); otherwise it answers `decide`, having written nothing. Reuse is answered, not
 * acted on: JS revokes, audits and publishes (in a transaction that calls this again, so the lock
 * lasts until the revocation commits).
 */
export async function up(knex: Knex): Promise<void> {
  await knex.raw(`
    create function sesame_refresh(p_presented_hash text, p_next_hash text, p_now timestamptz, p_grace_seconds double precision, p_ip text, p_approved text[])
    returns table (outcome text, owner_id uuid, membership_id uuid, session_row jsonb, user_row jsonb, held_types jsonb, gate jsonb, gate_key text)
    language plpgsql volatile as $$
    #variable_conflict use_column
    declare
      v_session_id uuid;
      v_session sessions;
      v_presented refresh_tokens;
      v_current refresh_tokens;
      v_user users;
    begin
      select t.session_id into v_session_id from refresh_tokens t where t.token_hash = p_presented_hash;
      if not found then
        outcome := 'invalid';
        return next;
        return;
      end if;
      -- Refreshes of one family serialise on the session's row.
      select * into v_session from sessions s where s.id = v_session_id for update;
      if not found or v_session.revoked_at is not null then
        outcome := 'ended';
        return next;
        return;
      end if;
      owner_id := v_session.user_id;
      membership_id := v_session.org_membership_id;
      session_row := to_jsonb(v_session);
      -- Read under the lock (a fresh snapshot): the refresh before us may just have rotated it.
      select * into v_presented from refresh_tokens t where t.token_hash = p_presented_hash;
      if not found then
        outcome := 'invalid';
        return next;
        return;
      end if;
      if v_session.expires_at <= p_now then
        outcome := 'expired';
        return next;
        return;
      end if;
      select * into v_current from refresh_tokens t where t.session_id = v_session.id order by t.generation desc limit 1;
      -- The current token rotates; so does the immediate predecessor within the grace window; anything else is reuse.
      if v_current.id is null
         or (v_current.id <> v_presented.id
             and not (v_presented.generation = v_current.generation - 1
                      and v_presented.rotated_at is not null
                      and p_now - v_presented.rotated_at <= make_interval(secs => p_grace_seconds))) then
        outcome := 'reused';
        return next;
        return;
      end if;
      select * into v_user from users u where u.id = v_session.user_id and u.deleted_at is null;
      if not found then
        outcome := 'ended';
        return next;
        return;
      end if;
      user_row := to_jsonb(v_user);
      select coalesce(jsonb_agg(to_jsonb(a) order by a.priority desc, a.name), '[]'::jsonb) into held_types
        from actor_types a join user_actor_types h on h.actor_type = a.name
        where h.user_id = v_user.id;
      gate := jsonb_build_object(
        'actor_type', (select e from jsonb_array_elements(held_types) e where e->>'name' = v_session.actor_type),
        'method', v_session.auth_method,
        'status', v_user.status);
      gate_key := encode(sha256(convert_to(gate::text, 'UTF8')), 'hex');
      if not coalesce(gate_key = any(p_approved), false) then
        outcome := 'decide';
        return next;
        return;
      end if;

      if v_session.device_ref is not null then
        update devices d set last_active_at = p_now, ip = coalesce(p_ip, d.ip) where d.id = v_session.device_ref and d.revoked_at is null;
      end if;
      update refresh_tokens t set rotated_at = p_now where t.id = v_current.id and t.rotated_at is null;
      insert into refresh_tokens (session_id, token_hash, generation, created_at) values (v_session.id, p_next_hash, v_current.generation + 1, p_now);
      update sessions s set last_active_at = p_now where s.id = v_session.id;
      outcome := 'rotated';
      return next;
    end $$`);
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw('drop function if exists sesame_refresh(text, text, timestamptz, double precision, text, text[])');
}
