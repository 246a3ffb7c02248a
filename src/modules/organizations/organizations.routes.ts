import { Router, type RequestHandler } from 'express';
import type {
  ActiveOrganizationRequest,
  InvitationCreateRequest,
  InvitationTokenRequest,
  MemberUpdateRequest,
  OrganizationCreateRequest,
  OrganizationUpdateRequest,
} from '../../../sdk/src/types.gen.js';
import { requireAuth } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import type { LimitDeclaration, RateLimits } from '../../http/rate-limit/rate-limits.js';
import type { Sessions } from '../../identity/sessions/sessions.js';
import { pageOf } from '../../shared/pagination.js';
import type { InvitationsService } from './invitations.service.js';
import type { OrganizationsService } from './organizations.service.js';

export interface OrganizationsRoutesDeps {
  organizations: OrganizationsService;
  invitations: InvitationsService;
  sessions: Pick<Sessions, 'setActiveOrganization'>;
  limits: RateLimits;
  /** README "Abuse protection": invitations per organization and per inviter. */
  rules: { invitationsOrg: LimitDeclaration['rule']; invitationsUser: LimitDeclaration['rule'] };
}

type Page = { limit?: string; cursor?: string };

/** Organizations, members, invitations and the active organization (spec tag `organizations`); the validator has checked bodies, queries and paths. */
export function organizationsRoutes({ organizations, invitations, sessions, limits, rules }: OrganizationsRoutesDeps): Router {
  const r = Router();
  const base = '/api/v1/organizations/:org_id';

  r.post('/api/v1/organizations', async (req, res) => {
    res.status(201).json(await organizations.create(requireAuth(req), req.body as OrganizationCreateRequest, requestContext(req)));
  });
  r.get('/api/v1/organizations', async (req, res) => {
    res.json(await organizations.list(requireAuth(req).sub, pageOf(req.query as Page)));
  });
  r.get(base, async (req, res) => {
    res.json(await organizations.get(requireAuth(req).sub, req.params.org_id));
  });
  r.patch(base, async (req, res) => {
    res.json(await organizations.update(requireAuth(req), req.params.org_id, req.body as OrganizationUpdateRequest, requestContext(req)));
  });
  r.delete(base, async (req, res) => {
    await organizations.delete(requireAuth(req), req.params.org_id, requestContext(req));
    res.status(204).end();
  });

  r.get(`${base}/members`, async (req, res) => {
    res.json(await organizations.listMembers(requireAuth(req).sub, req.params.org_id, pageOf(req.query as Page)));
  });
  r.patch(`${base}/members/:user_id`, async (req, res) => {
    const body = req.body as MemberUpdateRequest;
    res.json(await organizations.updateMember(requireAuth(req), req.params.org_id, req.params.user_id, body.role, requestContext(req)));
  });
  r.delete(`${base}/members/:user_id`, async (req, res) => {
    await organizations.removeMember(requireAuth(req), req.params.org_id, req.params.user_id, requestContext(req));
    res.status(204).end();
  });

  // Only someone who may invite counts against the organization's limit (no one can spend another organization's).
  const mayInvite: RequestHandler = async (req, _res, next) => {
    await invitations.assertMayInvite(requireAuth(req).sub, req.params.org_id as string);
    next();
  };
  const invitationLimits = limits.of({ name: 'invitations-org', rule: rules.invitationsOrg, by: 'organization' }, { name: 'invitations-user', rule: rules.invitationsUser, by: 'user' });
  r.post(`${base}/invitations`, mayInvite, ...invitationLimits, async (req, res) => {
    res.status(201).json(await invitations.create(requireAuth(req), req.params.org_id as string, req.body as InvitationCreateRequest, requestContext(req)));
  });
  r.get(`${base}/invitations`, async (req, res) => {
    res.json(await invitations.list(requireAuth(req).sub, req.params.org_id, pageOf(req.query as Page)));
  });
  r.delete(`${base}/invitations/:invitation_id`, async (req, res) => {
    await invitations.revoke(requireAuth(req), req.params.org_id, req.params.invitation_id, requestContext(req));
    res.status(204).end();
  });
  r.post('/api/v1/invitations/accept', async (req, res) => {
    res.json(await invitations.accept(requireAuth(req), (req.body as InvitationTokenRequest).token, requestContext(req)));
  });
  r.post('/api/v1/invitations/decline', async (req, res) => {
    await invitations.decline((req.body as InvitationTokenRequest).token, requestContext(req));
    res.status(204).end();
  });

  r.post('/api/v1/auth/active-organization', async (req, res) => {
    const body = req.body as ActiveOrganizationRequest;
    res.json(await sessions.setActiveOrganization(requireAuth(req), body.organization_id, requestContext(req)));
  });
  return r;
}
