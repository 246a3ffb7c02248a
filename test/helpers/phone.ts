import { randomInt } from 'node:crypto';
import { expect } from 'chai';
import * as sdk from '../../sdk/src/index.js';
import type { TestApp } from './app.js';
import { tokensOf } from './flows.js';

/**
 * A phone number no other test uses: a Chinese mobile (+86 13x, every one of the 10^9 numbers
 * is valid), so suites sharing the database and its per-number counters never meet.
 */
export function uniquePhone(): string {
  return `+8613${String(randomInt(0, 1_000_000_000)).padStart(9, '0')}`;
}

/** The newest SMS code the dev outbox holds for a number, or undefined when none was sent. */
export async function smsCodeTo(app: TestApp, phone: string): Promise<string | undefined> {
  const { data, error } = await sdk.listDevOutbox({ client: app.client, query: { to: phone } });
  expect(error, JSON.stringify(error)).to.equal(undefined);
  const sms = data!.items.filter((m) => m.channel === 'sms' && m.template === 'phone_code');
  return sms[0]?.code ?? undefined;
}

/** Requests a code (expects the 202) and returns the verification id. */
export async function requestCode(app: TestApp, phone: string, purpose: sdk.VerificationPurpose, extra: Partial<sdk.PhoneVerificationRequest> = {}): Promise<string> {
  const { data, error, response } = await sdk.requestPhoneVerification({ client: app.client, body: { phone_number: phone, purpose, ...extra } });
  expect(response?.status, JSON.stringify(error)).to.equal(202);
  return data!.verification_id;
}

/** Requests a code, reads it from the dev outbox and confirms it: a verification ready for its flow. */
export async function confirmedVerification(app: TestApp, phone: string, purpose: sdk.VerificationPurpose): Promise<string> {
  const id = await requestCode(app, phone, purpose);
  const code = await smsCodeTo(app, phone);
  expect(code, `no code sent to ${phone}`).to.be.a('string');
  const { error } = await sdk.confirmPhoneVerification({ client: app.client, body: { verification_id: id, code: code! } });
  expect(error, JSON.stringify(error)).to.equal(undefined);
  return id;
}

/** Registers a phone-only account (default actor type) and returns its number, user and session. */
export async function phoneUser(app: TestApp, overrides: Partial<sdk.PhoneRegisterRequest> = {}, phone = uniquePhone()) {
  const verificationId = await confirmedVerification(app, phone, 'registration');
  const { data, error } = await sdk.registerWithPhone({
    client: app.client,
    body: { verification_id: verificationId, first_name: 'Ama', last_name: 'Nguema', accept_terms: true, language: 'fr', ...overrides },
  });
  expect(error, JSON.stringify(error)).to.equal(undefined);
  const session = tokensOf(data);
  return { phone, user: session.user, session };
}

/** Signs a phone account in by SMS (no 2FA expected). */
export async function phoneLogin(app: TestApp, phone: string, extra: Partial<sdk.PhoneLoginRequest> = {}, headers?: Record<string, string>) {
  const verificationId = await confirmedVerification(app, phone, 'login');
  const { data, error } = await sdk.loginWithPhone({ client: app.client, body: { verification_id: verificationId, ...extra }, headers });
  expect(error, JSON.stringify(error)).to.equal(undefined);
  return tokensOf(data);
}
