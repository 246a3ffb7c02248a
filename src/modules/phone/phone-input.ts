import type { Request, RequestHandler } from 'express';
import { AppError } from '../../shared/errors.js';
import { parsePhone, type ParsedPhone } from '../../shared/phone.js';

const parsedKey = Symbol('phone');

/**
 * Parses the body's `phone_number` (with its `country` for a national number) before anything
 * counts it: an invalid number is 400 phone_number_invalid, a number of a country outside
 * SMS_ALLOWED_COUNTRIES (when set) 400 phone_country_not_allowed, and the body then holds the
 * E.164 form, so the per-number rate limit counts every spelling of a number as one.
 */
export function parsedPhoneNumber(allowedCountries: readonly string[]): RequestHandler {
  return (req, _res, next) => {
    const body = req.body as { phone_number: string; country?: string };
    const phone = parsePhone(body.phone_number, body.country);
    if (!phone) {
      throw new AppError('phone_number_invalid', {
        detail: 'This is not a valid phone number: give it in international form (+33 6 12 34 56 78), or national with its country.',
        errors: [{ path: '/body/phone_number', message: 'is not a valid phone number' }],
      });
    }
    if (allowedCountries.length && !allowedCountries.includes(phone.country)) {
      throw new AppError('phone_country_not_allowed', { detail: 'Codes cannot be sent to numbers of this country.', errors: [{ path: '/body/phone_number', message: 'country not allowed' }] });
    }
    body.phone_number = phone.e164;
    (req as unknown as Record<symbol, ParsedPhone>)[parsedKey] = phone;
    next();
  };
}

/** The number parsedPhoneNumber accepted for this request. */
export function phoneOf(req: Request): ParsedPhone {
  return (req as unknown as Record<symbol, ParsedPhone>)[parsedKey]!;
}
