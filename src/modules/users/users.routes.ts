import { Router } from 'express';
import type { Container } from '../../container.js';

/** Guests, users and guest conversion (SPEC §4.5). */
export function usersRoutes(c: Container): Router {
  void c;
  const r = Router();
  return r;
}
