/** Why a request was refused; the codes are those Sésame itself answers with. */
export const authErrors = {
  authentication_required: { status: 401, title: 'Authentication required' },
  invalid_token: { status: 401, title: 'Invalid token' },
  token_expired: { status: 401, title: 'Token expired' },
  session_revoked: { status: 401, title: 'Session revoked' },
  permission_denied: { status: 403, title: 'Permission denied' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
} as const;

export type AuthErrorCode = keyof typeof authErrors;

export class SesameAuthError extends Error {
  readonly status: number;
  readonly title: string;
  constructor(
    readonly code: AuthErrorCode,
    readonly detail: string,
    options: { cause?: unknown } = {},
  ) {
    super(detail, options);
    this.name = 'SesameAuthError';
    this.status = authErrors[code].status;
    this.title = authErrors[code].title;
  }
}

/** An RFC 9457 problem, shaped as Sésame's own (`type` urn:sesame:problem:<code>, plus `code`). */
export function problemOf(error: SesameAuthError, instance?: string) {
  return {
    type: `urn:sesame:problem:${error.code}`,
    title: error.title,
    status: error.status,
    detail: error.detail,
    code: error.code,
    ...(instance !== undefined && { instance }),
  };
}

/** Response headers for a refusal: a bearer challenge on 401 (RFC 6750), never cached. */
export function refusalHeaders(error: SesameAuthError, realm = 'api'): Record<string, string> {
  const headers: Record<string, string> = { 'Content-Type': 'application/problem+json', 'Cache-Control': 'no-store' };
  if (error.status === 401) {
    headers['WWW-Authenticate'] = error.code === 'authentication_required' ? `Bearer realm="${realm}"` : `Bearer realm="${realm}", error="invalid_token"`;
  }
  if (error.status === 503) headers['Retry-After'] = '5';
  return headers;
}
