import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics with the names README "Operations" lists; one registry per app instance. */
/** Live sessions per actor type (the seed's `role` label). */
export type ActiveSessionCounts = () => Promise<Array<{ role: string; count: number }>>;

export function createMetrics(activeSessions: ActiveSessionCounts) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const httpDuration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request duration by route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [registry],
  });
  const loginAttempts = new Counter({
    name: 'auth_login_attempts_total',
    help: 'Login attempts by outcome and actor type',
    labelNames: ['status', 'role'] as const,
    registers: [registry],
  });
  const loginDuration = new Histogram({
    name: 'auth_login_duration_seconds',
    help: 'Login duration',
    buckets: [0.025, 0.05, 0.1, 0.2, 0.5, 1, 2],
    registers: [registry],
  });
  const registerAttempts = new Counter({
    name: 'auth_register_attempts_total',
    help: 'Registration attempts by outcome and user type',
    labelNames: ['status', 'user_type'] as const,
    registers: [registry],
  });
  const refreshTotal = new Counter({
    name: 'auth_refresh_total',
    help: 'Refresh token exchanges by outcome',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const registerErrors = new Counter({
    name: 'auth_register_errors_total',
    help: 'Registrations refused, by error code',
    labelNames: ['error_type'] as const,
    registers: [registry],
  });
  const registerDuration = new Histogram({
    name: 'auth_register_duration_seconds',
    help: 'Registration duration',
    buckets: [0.025, 0.05, 0.1, 0.2, 0.5, 1, 2],
    registers: [registry],
  });
  const logoutTotal = new Counter({
    name: 'auth_logout_total',
    help: 'Logouts by type (manual: this session, all_devices)',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  const profileRequests = new Counter({
    name: 'auth_profile_requests_total',
    help: 'Profile reads by actor type',
    labelNames: ['role'] as const,
    registers: [registry],
  });
  const emailVerifications = new Counter({
    name: 'auth_email_verifications_total',
    help: 'Email verification attempts by outcome',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const profileUpdates = new Counter({
    name: 'auth_profile_updates_total',
    help: 'Profile updates',
    registers: [registry],
  });
  const passwordChanges = new Counter({
    name: 'auth_password_changes_total',
    help: 'Password changes by outcome',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const passwordResetRequests = new Counter({
    name: 'auth_password_reset_requests_total',
    help: 'Password reset requests (whether or not the email is known)',
    registers: [registry],
  });
  const passwordResetCompletions = new Counter({
    name: 'auth_password_reset_completions_total',
    help: 'Password reset confirmations by outcome',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  const verificationResends = new Counter({
    name: 'auth_email_verification_resends_total',
    help: 'Verification email resend requests (whether or not the email is known)',
    registers: [registry],
  });
  const mfaVerifications = new Counter({
    name: 'auth_2fa_verifications_total',
    help: 'Second-factor checks by method (totp, backup_code) and outcome',
    labelNames: ['method', 'status'] as const,
    registers: [registry],
  });
  const mfaChanges = new Counter({
    name: 'auth_2fa_changes_total',
    help: 'Two-factor enrolments and removals',
    labelNames: ['action'] as const,
    registers: [registry],
  });
  const sessionRevocations = new Counter({
    name: 'auth_session_revocations_total',
    help: 'Sessions revoked by the user from the session list',
    labelNames: ['scope'] as const,
    registers: [registry],
  });
  // SMS pumping shows as codes sent to a country that are never verified (README "Phone sign-in").
  const smsCodesSent = new Counter({
    name: 'auth_sms_codes_sent_total',
    help: 'SMS codes sent, by country and purpose',
    labelNames: ['country', 'purpose'] as const,
    registers: [registry],
  });
  const smsCodesVerified = new Counter({
    name: 'auth_sms_codes_verified_total',
    help: 'SMS codes verified, by country and purpose',
    labelNames: ['country', 'purpose'] as const,
    registers: [registry],
  });
  const smsCodesFailed = new Counter({
    name: 'auth_sms_codes_failed_total',
    help: 'Wrong SMS codes, by country',
    labelNames: ['country'] as const,
    registers: [registry],
  });
  const smsBudgetRefusals = new Counter({
    name: 'auth_sms_budget_refusals_total',
    help: 'SMS code requests refused because the country budget was used up',
    labelNames: ['country'] as const,
    registers: [registry],
  });
  const qrLogins = new Counter({
    name: 'auth_qr_logins_total',
    help: 'Cross-device (QR) sign-ins by outcome (created, approved, refused, delivered)',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'auth_active_sessions',
    help: 'Sessions neither revoked nor expired, by actor type',
    labelNames: ['role'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      for (const { role, count } of await activeSessions()) this.set({ role }, count);
    },
  });
  return {
    registry,
    httpDuration,
    loginAttempts,
    loginDuration,
    registerAttempts,
    registerErrors,
    registerDuration,
    profileRequests,
    refreshTotal,
    logoutTotal,
    emailVerifications,
    profileUpdates,
    passwordChanges,
    passwordResetRequests,
    passwordResetCompletions,
    verificationResends,
    mfaVerifications,
    mfaChanges,
    sessionRevocations,
    smsCodesSent,
    smsCodesVerified,
    smsCodesFailed,
    smsBudgetRefusals,
    qrLogins,
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
