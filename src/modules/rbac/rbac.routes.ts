import { Router } from 'express';
import type { PermissionCheckRequest, PermissionCreateRequest, RoleCreateRequest, RoleGrantRequest, RolePermissionsRequest } from '../../../sdk/src/types.gen.js';
import { requireAuth, requireCaller, requireOwnSession } from '../../http/authenticate.js';
import { requestContext } from '../../http/request-context.js';
import type { LimitDeclaration, RateLimits } from '../../http/rate-limit/rate-limits.js';
import type { RbacCatalogue } from './catalogue.service.js';
import type { RoleGrants } from './grants.service.js';
import type { PermissionChecks } from './permission-check.js';

export interface RbacRoutesDeps {
  catalogue: RbacCatalogue;
  grants: RoleGrants;
  permissions: PermissionChecks;
  limits: RateLimits;
  /** README "API keys": requests an API key authenticates, per key. */
  rules: { apiKey: LimitDeclaration['rule'] };
}

/** Roles, permissions, grants and the permission check (spec tag `rbac`); the validator has checked bodies and paths. */
export function rbacRoutes({ catalogue, grants, permissions, limits, rules }: RbacRoutesDeps): Router {
  const r = Router();
  r.get('/api/v1/permissions', async (req, res) => {
    requireAuth(req);
    res.json(await catalogue.listPermissions());
  });
  r.post('/api/v1/permissions', async (req, res) => {
    const auth = requireOwnSession(req);
    res.status(201).json(await catalogue.createPermission(auth.sub, req.body as PermissionCreateRequest, requestContext(req)));
  });
  r.post('/api/v1/permissions/check', ...limits.of({ name: 'api-key', rule: rules.apiKey, by: 'api_key' }), async (req, res) => {
    res.json(await permissions.check(requireCaller(req), req.body as PermissionCheckRequest));
  });

  r.get('/api/v1/roles', async (req, res) => {
    requireAuth(req);
    res.json(await catalogue.listRoles());
  });
  r.post('/api/v1/roles', async (req, res) => {
    const auth = requireOwnSession(req);
    res.status(201).json(await catalogue.createRole(auth.sub, req.body as RoleCreateRequest, requestContext(req)));
  });
  r.get('/api/v1/roles/:role_id/permissions', async (req, res) => {
    requireAuth(req);
    res.json(await catalogue.listRolePermissions(req.params.role_id));
  });
  r.put('/api/v1/roles/:role_id/permissions', async (req, res) => {
    const auth = requireOwnSession(req);
    const body = req.body as RolePermissionsRequest;
    res.json(await catalogue.setRolePermissions(auth.sub, req.params.role_id, body.permissions, requestContext(req)));
  });

  r.post('/api/v1/users/:user_id/roles', async (req, res) => {
    const auth = requireOwnSession(req);
    res.status(201).json(await grants.grant(auth.sub, req.params.user_id, req.body as RoleGrantRequest, requestContext(req)));
  });
  r.delete('/api/v1/users/:user_id/roles/:role_id', async (req, res) => {
    const auth = requireOwnSession(req);
    await grants.revoke(auth.sub, req.params.user_id, req.params.role_id, requestContext(req));
    res.status(204).end();
  });
  return r;
}
