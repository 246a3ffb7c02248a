import type { Knex } from 'knex';
import type { OrgRole } from '../../identity/org-roles.js';
import { AppError } from '../../shared/errors.js';
import { keysetPage, type Page, type PageRequest } from '../../shared/pagination.js';
import { isUniqueViolation } from '../../infra/pg-errors.js';

export type InvitationStatus = 'pending' | 'accepted' | 'declined' | 'revoked' | 'expired';

export interface InvitationRow {
  id: string;
  organization_id: string;
  email: string;
  role: OrgRole;
  token_hash: string;
  invited_by: string | null;
  status: InvitationStatus;
  expires_at: Date;
  created_at: Date;
  responded_at: Date | null;
  accepted_by: string | null;
}

/** `organization_invitations`: only the token's hash is stored. */
export const invitationsRepo = {
  /** 409 `invitation_pending` when the email already has a pending invitation to the organization. */
  async insert(trx: Knex.Transaction, row: Omit<InvitationRow, 'id' | 'status' | 'responded_at' | 'accepted_by'>): Promise<InvitationRow> {
    try {
      const [created] = await trx<InvitationRow>('organization_invitations').insert(row).returning('*');
      return created!;
    } catch (err) {
      if (isUniqueViolation(err, 'organization_invitations_one_pending')) {
        throw new AppError('invitation_pending', { detail: 'This email already has a pending invitation to this organization; revoke it to send another.', cause: err });
      }
      throw err;
    }
  },

  /** Pending invitations of the email to the organization whose time is up become `expired` (they no longer block a new one). */
  async expireStale(trx: Knex.Transaction, orgId: string, email: string, now: Date): Promise<void> {
    await trx('organization_invitations').where({ organization_id: orgId, email, status: 'pending' }).where('expires_at', '<=', now).update({ status: 'expired' });
  },

  /** The invitation a token stands for, locked until the transaction ends (a token works once). */
  async lockByTokenHash(trx: Knex.Transaction, tokenHash: string): Promise<InvitationRow | undefined> {
    return trx<InvitationRow>('organization_invitations').where({ token_hash: tokenHash }).forUpdate().first();
  },

  async lockPending(trx: Knex.Transaction, orgId: string, id: string): Promise<InvitationRow | undefined> {
    return trx<InvitationRow>('organization_invitations').where({ id, organization_id: orgId, status: 'pending' }).forUpdate().first();
  },

  async respond(trx: Knex.Transaction, id: string, status: Exclude<InvitationStatus, 'pending'>, now: Date, acceptedBy: string | null = null): Promise<void> {
    await trx('organization_invitations').where({ id }).update({ status, responded_at: now, accepted_by: acceptedBy });
  },

  /** The organization's invitations, every status, newest first. */
  async list(db: Knex, orgId: string, page: PageRequest): Promise<Page<InvitationRow>> {
    return keysetPage<InvitationRow>(db, db('organization_invitations').select('*').where({ organization_id: orgId }), page);
  },
};
