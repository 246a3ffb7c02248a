/**
 * The one error catalogue of Sésame. Each code maps to its HTTP status and title; the spec's
 * `ErrorCode` enum lists the same codes (a test keeps them equal).
 */
export const errorCatalogue = {
  validation_failed: { status: 400, title: 'The request is invalid' },
  malformed_json: { status: 400, title: 'The request body is not valid JSON' },
  payload_too_large: { status: 413, title: 'The request body is too large' },
  unsupported_media_type: { status: 415, title: 'Unsupported media type' },
  not_found: { status: 404, title: 'Not found' },
  method_not_allowed: { status: 405, title: 'Method not allowed' },
  password_too_weak: { status: 400, title: 'The password is too weak' },
  password_mismatch: { status: 400, title: 'The passwords do not match' },
  terms_not_accepted: { status: 400, title: 'The terms must be accepted' },
  actor_type_not_allowed: { status: 400, title: 'This actor type is not allowed here' },
  email_already_registered: { status: 409, title: 'Email already registered' },
  verification_token_invalid: { status: 400, title: 'The verification token is invalid' },
  verification_token_expired: { status: 400, title: 'The verification token has expired' },
  invalid_credentials: { status: 401, title: 'Invalid credentials' },
  email_not_verified: { status: 403, title: 'Email not verified' },
  account_suspended: { status: 403, title: 'Account suspended' },
  actor_type_not_held: { status: 403, title: 'Actor type not available to this account' },
  authentication_required: { status: 401, title: 'Authentication required' },
  invalid_token: { status: 401, title: 'Invalid token' },
  token_expired: { status: 401, title: 'Token expired' },
  session_revoked: { status: 401, title: 'Session revoked' },
  invalid_refresh_token: { status: 401, title: 'Invalid refresh token' },
  refresh_token_reused: { status: 401, title: 'Refresh token reused' },
  session_expired: { status: 401, title: 'Session expired' },
  field_not_editable: { status: 400, title: 'This field cannot be changed here' },
  invalid_current_password: { status: 401, title: 'The current password is wrong' },
  password_unchanged: { status: 400, title: 'The new password must differ from the current one' },
  reset_token_invalid: { status: 400, title: 'The password reset token is invalid' },
  reset_token_expired: { status: 400, title: 'The password reset token has expired' },
  session_not_found: { status: 404, title: 'Session not found' },
  mfa_already_enabled: { status: 409, title: 'Two-factor authentication is already enabled' },
  mfa_not_enabled: { status: 409, title: 'Two-factor authentication is not enabled' },
  mfa_setup_not_started: { status: 409, title: 'Two-factor enrolment has not been started' },
  invalid_mfa_code: { status: 401, title: 'The second-factor code is wrong' },
  mfa_token_invalid: { status: 401, title: 'The MFA token is invalid or has expired' },
  mfa_attempts_exceeded: { status: 401, title: 'Too many wrong second-factor codes' },
  mfa_setup_required: { status: 403, title: 'Two-factor enrolment required' },
  mfa_required_by_policy: { status: 403, title: 'Two-factor authentication is required for this account' },
  rate_limited: { status: 429, title: 'Too many requests' },
  account_locked: { status: 403, title: 'Account temporarily locked' },
  captcha_required: { status: 400, title: 'A CAPTCHA answer is required' },
  captcha_invalid: { status: 400, title: 'The CAPTCHA answer was not accepted' },
  auth_method_not_allowed: { status: 403, title: 'This sign-in method is not allowed for this actor type' },
  reauth_required: { status: 403, title: 'Sign in again to act as this actor type' },
  invalid_actor_type_policy: { status: 400, title: 'The actor-type policy is not allowed' },
  user_not_found: { status: 404, title: 'User not found' },
  not_a_guest: { status: 409, title: 'This account is not a guest' },
  metadata_too_large: { status: 400, title: 'The metadata is too large' },
  permission_denied: { status: 403, title: 'Permission denied' },
  privilege_escalation: { status: 403, title: 'Nobody can raise their own privileges' },
  role_not_found: { status: 404, title: 'Role not found' },
  role_not_granted: { status: 404, title: 'The user does not hold this role' },
  role_already_exists: { status: 409, title: 'A role with this name exists' },
  unknown_permission: { status: 400, title: 'Unknown permission' },
  permission_already_exists: { status: 409, title: 'A permission with this name exists' },
  quota_not_found: { status: 404, title: 'Quota not found' },
  quota_exceeded: { status: 429, title: 'Quota exceeded' },
  quota_not_renewable: { status: 403, title: 'This quota cannot be renewed' },
  invalid_renew_action: { status: 400, title: 'This action does not renew the quota' },
  oauth_provider_not_found: { status: 404, title: 'No such sign-in provider' },
  redirect_uri_not_allowed: { status: 400, title: 'This redirect URI is not on the allow-list' },
  oauth_state_invalid: { status: 400, title: 'The sign-in state is invalid, used or expired' },
  oauth_callback_invalid: { status: 400, title: "The provider's answer could not be verified" },
  oauth_access_denied: { status: 403, title: 'The sign-in was refused at the provider' },
  oauth_provider_error: { status: 503, title: 'The provider failed to complete the sign-in' },
  oauth_code_invalid: { status: 400, title: 'The sign-in code is invalid, used or expired' },
  code_verifier_mismatch: { status: 400, title: 'The code verifier does not match the code challenge' },
  account_exists: { status: 409, title: 'An account with this email exists: sign in and link this provider' },
  identity_already_linked: { status: 409, title: 'This external identity is linked to another account' },
  identity_link_mismatch: { status: 403, title: 'This link was started by another account' },
  identity_not_found: { status: 404, title: 'Identity not found' },
  last_sign_in_method: { status: 409, title: 'This is the last way to sign in to the account' },
  impersonation_forbidden: { status: 403, title: 'Not allowed under impersonation' },
  impersonation_not_allowed: { status: 403, title: 'This user cannot be impersonated' },
  not_impersonating: { status: 409, title: 'This session is not an impersonation' },
  service_unavailable: { status: 503, title: 'Service unavailable' },
  internal_error: { status: 500, title: 'Internal error' },
  phone_number_invalid: { status: 400, title: 'The phone number is not valid' },
  phone_country_not_allowed: { status: 400, title: 'SMS to this country is not allowed' },
  sms_budget_exceeded: { status: 429, title: "This country's SMS budget is used up for now" },
  phone_verification_invalid: { status: 400, title: 'The phone verification is not valid' },
  phone_verification_expired: { status: 400, title: 'The phone verification has expired' },
  phone_code_invalid: { status: 400, title: 'The code is wrong' },
  phone_code_attempts_exceeded: { status: 429, title: 'Too many wrong codes' },
  phone_already_registered: { status: 409, title: 'Phone number already registered' },
  device_not_found: { status: 404, title: 'Device not found' },
  qr_challenge_not_found: { status: 404, title: 'QR challenge not found' },
  qr_challenge_expired: { status: 400, title: 'The QR challenge has expired' },
  qr_challenge_used: { status: 409, title: 'The QR challenge is already decided or claimed' },
  qr_inspection_required: { status: 409, title: 'Inspect the QR challenge before deciding it' },
  qr_approval_not_allowed: { status: 403, title: 'This session cannot approve a cross-device sign-in' },
  slow_down: { status: 429, title: 'Polling too fast' },
  organization_not_found: { status: 404, title: 'Organization not found' },
  organization_slug_taken: { status: 409, title: 'Another organization has this slug' },
  last_owner: { status: 409, title: 'An organization keeps at least one owner' },
  member_not_found: { status: 404, title: 'Member not found' },
  already_member: { status: 409, title: 'Already a member of this organization' },
  invitation_not_found: { status: 404, title: 'Invitation not found' },
  invitation_pending: { status: 409, title: 'This email already has a pending invitation' },
  invitation_invalid: { status: 400, title: 'The invitation is invalid' },
  invitation_expired: { status: 400, title: 'The invitation has expired' },
  invitation_email_mismatch: { status: 403, title: 'The invitation is for another email address' },
  api_key_not_found: { status: 404, title: 'API key not found' },
  invalid_api_key: { status: 401, title: 'Invalid API key' },
  ambiguous_credentials: { status: 401, title: 'More than one credential' },
} as const satisfies Record<string, { status: number; title: string }>;

export type ErrorCode = keyof typeof errorCatalogue;

export interface FieldError {
  path: string;
  message: string;
}

/** An error a client may see: its code, a safe detail, and optional field errors. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly detail: string | undefined;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, options: { detail?: string; errors?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {}) {
    super(options.detail ?? errorCatalogue[code].title, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = errorCatalogue[code].status;
    this.detail = options.detail;
    this.errors = options.errors;
    this.headers = options.headers;
  }
}

/** Raised when PostgreSQL or the fast-path store cannot be reached. */
export class DependencyUnavailableError extends AppError {
  constructor(dependency: string, cause?: unknown) {
    super('service_unavailable', { detail: `A dependency (${dependency}) is unavailable; retry later.`, cause, headers: { 'Retry-After': '5' } });
  }
}
