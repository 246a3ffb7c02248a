import { Router } from 'express';
import type { Container } from '../../container.js';

/** Actor-type policies and switch-actor (SPEC §3, §4.9). */
export function actorTypesRoutes(c: Container): Router {
  void c;
  const r = Router();
  return r;
}
