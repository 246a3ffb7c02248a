import { Router } from 'express';
import type { Container } from '../../container.js';

/** Roles, permissions, grants and the permission check (SPEC §4.6). */
export function rbacRoutes(c: Container): Router {
  void c;
  const r = Router();
  return r;
}
