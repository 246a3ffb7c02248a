import type { Knex } from 'knex';
import { malformedToken, type CredentialResolver } from '../../http/authenticate.js';
import type { Clock } from '../../infra/clock.js';
import { opaqueTokenFormat } from '../../infra/tokens.js';
import { mfaChallenges } from './mfa-challenges.js';

/**
 * The bearer credential of an `mfa_setup_required` login: its `mfa_token`, while the setup
 * challenge is live, names a user who may only enrol TOTP (see requireEnrolment).
 */
export function mfaSetupResolver(deps: { db: Knex; clock: Clock }): CredentialResolver {
  return {
    name: 'mfa_setup_token',
    format: opaqueTokenFormat,
    async resolve(credential) {
      const row = await mfaChallenges.findLiveSetup(deps.db, credential, deps.clock.now());
      if (!row) throw malformedToken();
      return { kind: 'mfa_setup', userId: row.user_id, challengeId: row.id };
    },
  };
}
