import type { ErrorRequestHandler, Request, Response } from 'express';
import type { Logger } from 'pino';
import { AppError, DependencyUnavailableError, errorCatalogue, type ErrorCode, type FieldError } from './errors.js';

export const problemTypeBase = 'urn:sesame:problem:';

/** At most this many field errors in one answer (the validator reports every schema error). */
export const maxFieldErrors = 20;

interface ValidatorError {
  status?: number;
  errors?: Array<{ path?: string; message?: string }>;
  type?: string;
  path?: string;
}

const authFailureKey = Symbol('authFailure');

/** 401s about a secret sent in the body (password, code, refresh or MFA token), not the bearer token. */
const bodyCredentialCodes = new Set<ErrorCode>(['invalid_credentials', 'invalid_refresh_token', 'refresh_token_reused', 'invalid_current_password', 'invalid_mfa_code', 'mfa_token_invalid', 'mfa_attempts_exceeded']);

/** The security handler records why it refused, since the validator only passes on a status. */
export function recordAuthFailure(req: Request, error: AppError): void {
  (req as unknown as Record<symbol, AppError>)[authFailureKey] = error;
}

function authFailureOf(req: Request): AppError | undefined {
  return (req as unknown as Record<symbol, AppError | undefined>)[authFailureKey];
}

/** The RFC 9457 body of an error (the spec's Problem schema). */
export function problemBody(error: AppError, instance: string | undefined, requestId: string): Record<string, unknown> {
  const body: Record<string, unknown> = {
    type: `${problemTypeBase}${error.code}`,
    title: errorCatalogue[error.code].title,
    status: error.status,
    detail: error.detail ?? errorCatalogue[error.code].title,
    instance,
    code: error.code,
    request_id: requestId,
  };
  if (error.errors?.length) body.errors = error.errors;
  return body;
}

export function sendProblem(req: Request, res: Response, error: AppError): void {
  const body = problemBody(error, req.originalUrl.split('?')[0], String(req.id ?? ''));
  for (const [name, value] of Object.entries(error.headers ?? {})) res.setHeader(name, value);
  // A bearer challenge only when the bearer token is the problem, not a secret in the body.
  if (error.status === 401 && !bodyCredentialCodes.has(error.code)) {
    res.setHeader('WWW-Authenticate', error.code === 'authentication_required' ? 'Bearer realm="sesame"' : 'Bearer realm="sesame", error="invalid_token"');
  }
  // res.json (not send) so the response validator checks error bodies against the spec too.
  res.status(error.status).type('application/problem+json').json(body);
}

function normalizePath(p: string | undefined): string {
  if (!p) return '/';
  if (p.startsWith('/')) return p;
  return `/${p.replace(/^\./, '').replace(/\./g, '/')}`;
}

const pgUnavailableCodes = /^(08|53|57P)/; // connection exceptions, insufficient resources, admin shutdown

function isDependencyFailure(err: unknown): string | undefined {
  const e = err as { code?: string; name?: string; message?: string };
  if (!e || typeof e !== 'object') return undefined;
  if (e.name === 'KnexTimeoutError') return 'postgresql';
  if (typeof e.code === 'string' && (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE'].includes(e.code) || pgUnavailableCodes.test(e.code))) return 'postgresql';
  if (/Connection terminated|not queryable|timeout exceeded when trying to connect|the database system is (shutting down|starting up)/.test(e.message ?? '')) return 'postgresql';
  if (e.name === 'MaxRetriesPerRequestError' || /Connection is closed|Stream isn't writeable|Command timed out/.test(e.message ?? '')) return 'redis';
  return undefined;
}

/** Turns anything thrown into problem+json; only AppErrors reach the client with their detail. */
export function toAppError(err: unknown, req: Request): { error: AppError; unexpected: boolean } {
  if (err instanceof AppError) return { error: err, unexpected: false };
  const refusedAuth = authFailureOf(req);
  if (refusedAuth) return { error: refusedAuth, unexpected: false };
  const e = err as ValidatorError & { expose?: boolean; statusCode?: number };
  if (e && typeof e === 'object') {
    // body-parser
    if (e.type === 'entity.parse.failed') return { error: new AppError('malformed_json'), unexpected: false };
    if (e.type === 'entity.too.large') return { error: new AppError('payload_too_large'), unexpected: false };
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') return { error: new AppError('unsupported_media_type'), unexpected: false };
    // express-openapi-validator
    const status = e.status ?? e.statusCode;
    if (status === 401) return { error: new AppError('authentication_required', { detail: 'A bearer access token is required.' }), unexpected: false };
    const simple: Partial<Record<number, ErrorCode>> = { 404: 'not_found', 405: 'method_not_allowed', 413: 'payload_too_large', 415: 'unsupported_media_type' };
    const code = status !== undefined ? simple[status] : undefined;
    if (code) {
      const allow = (e as { headers?: Record<string, string> }).headers?.Allow;
      return { error: new AppError(code, allow ? { headers: { Allow: allow } } : {}), unexpected: false };
    }
    if (status === 400 && Array.isArray(e.errors)) {
      const errors: FieldError[] = e.errors.slice(0, maxFieldErrors).map((x) => ({
        path: normalizePath(x.path),
        message: x.message ?? 'is invalid',
      }));
      // A PATCH naming a field the resource does not let the caller change (email, password, status...).
      const rawErrors = e.errors as Array<{ errorCode?: string }>;
      if (req.method === 'PATCH' && rawErrors.every((x) => x.errorCode === 'additionalProperties.openapi.validation')) {
        return { error: new AppError('field_not_editable', { detail: 'The request names fields that cannot be changed here.', errors }), unexpected: false };
      }
      const more = e.errors.length > errors.length ? ` (${e.errors.length} errors; the first ${errors.length} are listed)` : '';
      return { error: new AppError('validation_failed', { detail: `The request does not match the API contract${more}.`, errors }), unexpected: false };
    }
  }
  // Input PostgreSQL cannot store (NUL bytes, bad encoding, too long) that slipped past the schema.
  const pgCode = (err as { code?: string } | undefined)?.code;
  if (pgCode === '22021' || pgCode === '22P05' || pgCode === '22001') {
    return { error: new AppError('validation_failed', { detail: 'The request contains a value that cannot be stored.' }), unexpected: false };
  }
  const dependency = isDependencyFailure(err);
  if (dependency) return { error: new DependencyUnavailableError(dependency, err), unexpected: true };
  return { error: new AppError('internal_error', { detail: 'An unexpected error occurred.' }), unexpected: true };
}

export function problemHandler(logger: Logger): ErrorRequestHandler {
  return (err, req, res, next) => {
    if (res.headersSent) return next(err);
    const { error, unexpected } = toAppError(err, req);
    if (unexpected) (req.log ?? logger).error({ err, code: error.code }, 'request failed');
    sendProblem(req, res, error);
  };
}
