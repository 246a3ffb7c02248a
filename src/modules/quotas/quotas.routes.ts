import { Router } from 'express';
import type { Container } from '../../container.js';

/** A user's quotas: list, consume, renew (SPEC §4.5). */
export function quotasRoutes(c: Container): Router {
  void c;
  const r = Router();
  return r;
}
