import type { Request } from 'express';
import { apiKeyCredential, bearerCredential } from '../../http/authenticate.js';
import { AppError, type FieldError } from '../../shared/errors.js';

const maxTokenLength = 8192;

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

/** What the gateway route verifies: an access token, or an API key. */
export type GatewayCredential = { kind: 'token' | 'api_key'; value: string };

/**
 * The credential to verify: the POST body's `token` first; else `Authorization: Bearer` or
 * `X-API-Key`, which must carry one credential (the SDK sends the same one in both): two
 * different ones are 401 `ambiguous_credentials`. A key goes by its format; `isApiKey` tells it.
 */
export function credentialOf(req: Request, isApiKey: (value: string) => boolean): GatewayCredential {
  const fromBody = req.method === 'POST' ? tokenFromBody(req.body) : undefined;
  if (fromBody !== undefined) return { kind: 'token', value: fromBody };
  const bearer = bearerCredential(req);
  const key = apiKeyCredential(req);
  if (key === undefined) {
    if (bearer === undefined) throw new AppError('authentication_required', { detail: 'A bearer access token (or an API key in X-API-Key) is required.' });
    return { kind: 'token', value: bearer };
  }
  if (bearer !== undefined && bearer !== key) throw new AppError('ambiguous_credentials', { detail: 'Send one credential: an API key (X-API-Key) or a bearer access token, not both.' });
  if (isApiKey(key)) return { kind: 'api_key', value: key };
  if (bearer !== undefined) return { kind: 'token', value: key };
  throw new AppError('invalid_api_key', { detail: 'This is not a Sésame API key.' });
}

/** A POST body must be JSON (the contract's only media type); no body, or an empty one, is fine. */
export function assertJsonBody(req: Request): void {
  const length = req.headers['content-length'];
  const hasBody = req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
  if (hasBody && !req.is('application/json')) {
    throw new AppError('unsupported_media_type', { detail: 'The body must be application/json.' });
  }
}
