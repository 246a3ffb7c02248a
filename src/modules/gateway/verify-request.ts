import type { Request } from 'express';
import { AppError, type FieldError } from '../../shared/errors.js';

const maxTokenLength = 8192;
const bearerPattern = /^Bearer\s+(\S+)\s*$/i;

/**
 * The `VerifyRequest` body checked by hand: the route runs before the OpenAPI validator (for
 * speed), so it enforces the contract itself. Undefined: no body, or no `token` in it.
 */
function tokenFromBody(body: unknown): string | undefined {
  if (body === undefined) return undefined;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalid([{ path: '/body', message: 'must be object' }]);
  }
  const errors: FieldError[] = [];
  for (const key of Object.keys(body)) {
    if (key !== 'token') errors.push({ path: `/body/${key}`, message: 'must NOT have additional properties' });
  }
  const token = (body as { token?: unknown }).token;
  if (token !== undefined) {
    if (typeof token !== 'string') errors.push({ path: '/body/token', message: 'must be string' });
    else if (token.length < 1) errors.push({ path: '/body/token', message: 'must NOT have fewer than 1 characters' });
    else if (token.length > maxTokenLength) errors.push({ path: '/body/token', message: `must NOT have more than ${maxTokenLength} characters` });
  }
  if (errors.length) throw invalid(errors);
  return token as string | undefined;
}

function invalid(errors: FieldError[]): AppError {
  return new AppError('validation_failed', { detail: 'The request does not match the API contract.', errors });
}

/** The token to verify: the POST body's `token` first, else `Authorization: Bearer`. */
export function tokenOf(req: Request): string {
  const fromBody = req.method === 'POST' ? tokenFromBody(req.body) : undefined;
  if (fromBody !== undefined) return fromBody;
  const header = req.headers.authorization;
  const match = header === undefined ? null : bearerPattern.exec(header);
  if (!match) throw new AppError('authentication_required', { detail: 'A bearer access token is required.' });
  return match[1]!;
}

/** A POST body must be JSON (the contract's only media type); no body, or an empty one, is fine. */
export function assertJsonBody(req: Request): void {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (hasBody && !req.is('application/json')) {
    throw new AppError('unsupported_media_type', { detail: 'The body must be application/json.' });
  }
}
