import { parsePhoneNumberFromString, type CountryCode } from 'libphonenumber-js/max';

/** A phone number libphonenumber-js accepted, in E.164, with the country it belongs to. */
export interface ParsedPhone {
  e164: string;
  /** ISO 3166-1 alpha-2, or `ZZ` for non-geographic numbers (+800, +882...). */
  country: string;
}

/**
 * Parses an international number (`+33 6 12 34 56 78`) or a national one with its country
 * (`06 12 34 56 78`, `FR`) and keeps it only when it is a valid number (full metadata), in E.164.
 */
export function parsePhone(input: string, country?: string): ParsedPhone | undefined {
  const parsed = parsePhoneNumberFromString(input, country as CountryCode | undefined);
  if (!parsed?.isValid()) return undefined;
  return { e164: parsed.number, country: parsed.country ?? 'ZZ' };
}

/**
 * Masks a phone number for logs and audit rows, keeping the country calling code and the last
 * two digits: +240222123456 → `+240 *** ** 56`.
 */
export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  const callingCode = parsePhoneNumberFromString(phone)?.countryCallingCode;
  const last = digits.slice(-2);
  return callingCode && digits.length > callingCode.length + 2 ? `+${callingCode} *** ** ${last}` : `+*** ** ${last}`;
}
