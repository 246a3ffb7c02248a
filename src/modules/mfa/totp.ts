import QRCode from 'qrcode';
import speakeasy from 'speakeasy';

/** RFC 6238 parameters: SHA-1, 6 digits, 30 s steps; a code is accepted one step either side. */
const stepSeconds = 30;
const window = 1;

/** A new base32 TOTP secret for an authenticator app. */
export function newTotpSecret(): string {
  return speakeasy.generateSecret({ length: 20 }).base32;
}

/** The `otpauth://` URL an authenticator app enrols from; the label is `issuer:account`, URI-encoded. */
export function otpauthUrl(secret: string, issuer: string, account: string): string {
  const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
  return speakeasy.otpauthURL({ secret, encoding: 'base32', label, issuer });
}

/** The otpauth URL as a PNG QR code, in a `data:image/png;base64,` URL. */
export async function qrCodeDataUrl(url: string): Promise<string> {
  return QRCode.toDataURL(url);
}

/** The time step whose code `code` is (within the window around `now`), or undefined for a wrong code. */
export function matchingStep(secret: string, code: string, now: Date): number | undefined {
  const time = Math.floor(now.getTime() / 1000);
  const match = speakeasy.totp.verifyDelta({ secret, encoding: 'base32', token: code, window, time, step: stepSeconds });
  return match ? Math.floor(time / stepSeconds) + match.delta : undefined;
}
