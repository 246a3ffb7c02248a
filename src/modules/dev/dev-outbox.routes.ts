import { Router } from 'express';
import type { Knex } from 'knex';
import { normalizeEmail } from '../../identity/users.repo.js';
import { messagesTo } from '../../infra/messages/outbox.js';

/** An address as the outbox stores it: an email lower-cased, a phone number in E.164 (`+` may arrive decoded as a space). */
function recipientOf(to: string): string {
  return to.includes('@') ? normalizeEmail(to) : `+${to.replace(/[^0-9]/g, '')}`;
}

/** GET /api/v1/dev/outbox: mounted only outside production, for the channels no provider delivers. */
export function devOutboxRoutes({ db, channels }: { db: Knex; channels: Array<'email' | 'sms'> }): Router {
  const r = Router();
  r.get('/api/v1/dev/outbox', async (req, res) => {
    const to = String(req.query.to);
    const limit = Number(req.query.limit ?? 20);
    const rows = await messagesTo(db, recipientOf(to), limit, channels);
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
