import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics with seed 001's names; one registry per app instance. */
export function createMetrics(activeSessions: () => Promise<number>) {
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
  const logoutTotal = new Counter({
    name: 'auth_logout_total',
    help: 'Logouts by scope',
    labelNames: ['scope'] as const,
    registers: [registry],
  });
  const emailVerifications = new Counter({
    name: 'auth_email_verifications_total',
    help: 'Email verification attempts by outcome',
    labelNames: ['status'] as const,
    registers: [registry],
  });
  new Gauge({
    name: 'auth_active_sessions',
    help: 'Sessions neither revoked nor expired',
    registers: [registry],
    async collect() {
      this.set(await activeSessions());
    },
  });
  return { registry, httpDuration, loginAttempts, loginDuration, registerAttempts, refreshTotal, logoutTotal, emailVerifications };
}

export type Metrics = ReturnType<typeof createMetrics>;
