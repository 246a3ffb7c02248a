import { Router } from 'express';
import type { Knex } from 'knex';
import { normalizeEmail } from '../../identity/users.repo.js';
import { messagesTo } from '../../infra/messages/outbox.js';

/** GET /api/v1/dev/outbox: mounted only outside production when no provider delivers mail. */
export function devOutboxRoutes({ db }: { db: Knex }): Router {
  const r = Router();
  r.get('/api/v1/dev/outbox', async (req, res) => {
    const to = String(req.query.to);
    const limit = Number(req.query.limit ?? 20);
    const rows = await messagesTo(db, to.includes('@') ? normalizeEmail(to) : to.trim(), limit);
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
