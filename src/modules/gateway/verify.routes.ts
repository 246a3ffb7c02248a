import { Router } from 'express';
import type { Container } from '../../container.js';

/** Token verification for gateways (SPEC §4.6). */
export function verifyRoutes(c: Container): Router {
  void c;
  const r = Router();
  return r;
}
