import { Router } from 'express';
import type { Knex } from 'knex';
import { normalizeEmail } from '../../identity/users.repo.js';

interface OutboxRow {
  id: string;
  channel: 'email' | 'sms';
  recipient: string;
  template: string;
  subject: string | null;
  body: string;
  data: { token?: string; code?: string; link?: string };
  status: 'pending' | 'sent' | 'failed';
  created_at: Date;
}

/** GET /api/v1/dev/outbox: mounted only outside production when no provider delivers mail. */
export function devOutboxRoutes({ db }: { db: Knex }): Router {
  const r = Router();
  r.get('/api/v1/dev/outbox', async (req, res) => {
    const to = String(req.query.to);
    const limit = Number(req.query.limit ?? 20);
    const recipient = to.includes('@') ? normalizeEmail(to) : to.trim();
    const rows = await db<OutboxRow>('outbox_messages').where({ recipient }).orderBy([{ column: 'created_at', order: 'desc' }, { column: 'seq', order: 'desc' }]).limit(limit);
    res.json({
      items: rows.map((m) => ({
        id: m.id,
        channel: m.channel,
        to: m.recipient,
        template: m.template,
        subject: m.subject,
        body: m.body,
        token: m.data.token ?? null,
        code: m.data.code ?? null,
        link: m.data.link ?? null,
        status: m.status,
        created_at: m.created_at.toISOString(),
      })),
      next_cursor: null,
    });
  });
  return r;
}
