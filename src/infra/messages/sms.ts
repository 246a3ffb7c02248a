/** An SMS the outbox delivers. */
export interface Sms {
  /** E.164. */
  to: string;
  body: string;
}

/** Delivers one SMS; throws a DeliveryError (or any error) when it was not accepted. */
export interface SmsSender {
  send(sms: Sms): Promise<void>;
}

/** A delivery the provider refused. `permanent`: retrying the same message cannot succeed (a 4xx). */
export class DeliveryError extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'DeliveryError';
  }
}

export interface TwilioSmsSettings {
  /** The API's base URL (`https://api.twilio.com`, or a provider speaking the same API). */
  apiUrl: string;
  accountSid: string;
  authToken: string;
  /** The sender number or alphanumeric id, unless a messaging service picks it. */
  from?: string;
  messagingServiceSid?: string;
  timeoutMs?: number;
}

/**
 * Twilio's Messages API (`POST {apiUrl}/2010-04-01/Accounts/{AccountSid}/Messages.json`, a form
 * with `To`, `Body` and `From` or `MessagingServiceSid`, HTTP Basic with the account SID and
 * auth token): README "SMS provider". A 2xx is accepted; 408, 429 and 5xx are retried by the
 * outbox; any other 4xx is permanent. Errors carry the status and the provider's error code
 * only, never the message text (which may quote the number).
 */
export class TwilioSmsSender implements SmsSender {
  constructor(private readonly settings: TwilioSmsSettings) {}

  async send(sms: Sms): Promise<void> {
    const { apiUrl, accountSid, authToken, from, messagingServiceSid, timeoutMs } = this.settings;
    const form = new URLSearchParams({ To: sms.to, Body: sms.body });
    if (messagingServiceSid) form.set('MessagingServiceSid', messagingServiceSid);
    else if (from) form.set('From', from);
    const url = `${apiUrl.replace(/\/+$/, '')}/2010-04-01/Accounts/${encodeURIComponent(accountSid)}/Messages.json`;
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Basic ${Buffer.from(`${accountSid}:${authToken}`).toString('base64')}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: form,
      signal: AbortSignal.timeout(timeoutMs ?? 10_000),
    });
    if (response.ok) {
      await response.body?.cancel();
      return;
    }
    const code = await response
      .json()
      .then((b: { code?: unknown }) => (typeof b?.code === 'number' || typeof b?.code === 'string' ? ` (provider code ${String(b.code)})` : ''))
      .catch(() => '');
    const retryable = response.status === 408 || response.status === 429 || response.status >= 500;
    throw new DeliveryError(`SMS provider answered HTTP ${response.status}${code}`, !retryable);
  }
}
