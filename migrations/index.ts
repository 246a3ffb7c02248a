import type { Knex } from 'knex';
import * as identity from './20261121000001_identity.js';
import * as sessions from './20261121000002_sessions.js';
import * as platform from './20261121000003_platform.js';
import * as signingKeyActivation from './20261121000004_signing_key_activation.js';
import * as accountSecurity from './20261121000005_account_security.js';
import * as abuseAndAudit from './20261121000006_abuse_and_audit.js';
import * as rbacQuotas from './20261121000007_rbac_quotas.js';
import * as signInPipeline from './20261201000008_sign_in_pipeline.js';
import * as trustedDevices from './20261201000009_trusted_devices.js';
import * as identities from './20261201000100_identities.js';
import * as phoneDevices from './20261201000200_phone_devices.js';
import * as organizations from './20261201000300_organizations.js';
import * as admin from './20261201000400_admin.js';
import * as adminOrganizations from './20261201000500_admin_organizations.js';
import * as leanRefresh from './20261201000700_lean_refresh.js';

interface Migration {
  up(knex: Knex): Promise<void>;
  down(knex: Knex): Promise<void>;
  /** `{ transaction: false }`: the migration runs outside a transaction (CREATE INDEX CONCURRENTLY). */
  config?: { transaction?: boolean };
}

/** Migrations in order; listed explicitly so they load the same under tsx, node and bundlers. */
const migrations: Array<[string, Migration]> = [
  ['20261121000001_identity', identity],
  ['20261121000002_sessions', sessions],
  ['20261121000003_platform', platform],
  ['20261121000004_signing_key_activation', signingKeyActivation],
  ['20261121000005_account_security', accountSecurity],
  ['20261121000006_abuse_and_audit', abuseAndAudit],
  ['20261121000007_rbac_quotas', rbacQuotas],
  ['20261201000008_sign_in_pipeline', signInPipeline],
  ['20261201000009_trusted_devices', trustedDevices],
  ['20261201000100_identities', identities],
  ['20261201000200_phone_devices', phoneDevices],
  ['20261201000300_organizations', organizations],
  ['20261201000400_admin', admin],
  ['20261201000500_admin_organizations', adminOrganizations],
  ['20261201000700_lean_refresh', leanRefresh],
];

export const migrationSource: Knex.MigrationSource<[string, Migration]> = {
  getMigrations: async () => migrations,
  getMigrationName: ([name]) => name,
  getMigration: async ([, migration]) => migration,
};
