import { bearerCredential, type CredentialScheme } from '../../http/authenticate.js';
import { AppError } from '../../shared/errors.js';
import { pollTokenFormat, type QrLogin } from './qr-login.js';

/** What a poll token is bound to (requireBound's resource). */
export const qrChallengeResource = 'qr_challenge';

/**
 * The spec's `qrPollToken` scheme: `Authorization: Bearer <poll_token>` names the one QR
 * challenge it was issued with, and is good for polling that challenge only.
 */
export function qrPollScheme(qr: Pick<QrLogin, 'challengeOfPollToken'>): CredentialScheme {
  const invalid = () => new AppError('invalid_token', { detail: 'The poll token is not valid.' });
  return {
    name: 'qrPollToken',
    read: bearerCredential,
    missing: () => new AppError('authentication_required', { detail: 'The poll token of the challenge is required as a bearer token.' }),
    resolvers: [
      {
        name: 'qr_poll_token',
        format: pollTokenFormat,
        async resolve(credential) {
          const id = await qr.challengeOfPollToken(credential);
          if (!id) throw invalid();
          return { kind: 'bound', resource: qrChallengeResource, id };
        },
      },
    ],
  };
}
