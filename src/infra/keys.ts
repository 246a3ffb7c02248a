import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, exportPKCS8, generateKeyPair, importPKCS8, importJWK, type JWK, type CryptoKey } from 'jose';
import type { Db } from './db.js';
import type { Clock } from './clock.js';

export const signingAlg = 'ES256';
const cacheMs = 60_000;

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: JWK;
  private_key_encrypted: string;
  created_at: Date;
  retired_at: Date | null;
  publish_until: Date | null;
}

export interface PublicJwk extends JWK {
  kid: string;
  alg: string;
  use: 'sig';
}

/** AES-256-GCM with a key derived from KEY_ENCRYPTION_KEY: private keys never rest in clear. */
export class KeyEncryption {
  private readonly key: Buffer;
  constructor(secret: string) {
    this.key = createHash('sha256').update(`sesame-signing-keys:${secret}`).digest();
  }
  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  }
  decrypt(sealed: string): string {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || !data) throw new Error('unknown signing key encryption format');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
  }
}

interface Loaded {
  at: number;
  signing: { kid: string; key: CryptoKey } | undefined;
  verifying: Map<string, CryptoKey>;
  published: PublicJwk[];
}

/**
 * Signing keys shared by every instance through PostgreSQL. The newest unretired key signs;
 * retired keys stay published until every token they signed has expired.
 */
export class SigningKeys {
  private loaded: Loaded | undefined;
  private loading: Promise<Loaded> | undefined;
  private lastUnknownKidReload = 0;

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
    private readonly encryption: KeyEncryption,
  ) {}

  /** Creates a first key when there is none (first start). Safe when instances race. */
  async ensureActiveKey(): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['sesame:signing-keys']);
      const active = await trx<KeyRow>('signing_keys').whereNull('retired_at').first('kid');
      if (!active) await this.insertNewKey(trx);
    });
    this.loaded = undefined;
  }

  /**
   * Starts signing with a new key. The previous keys stay published for `publishSeconds`
   * (the longest access-token lifetime) so tokens they signed keep verifying.
   */
  async rotate(publishSeconds: number): Promise<string> {
    const kid = await this.db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['sesame:signing-keys']);
      const now = this.clock.now();
      await trx('signing_keys').whereNull('retired_at').update({ retired_at: now, publish_until: new Date(now.getTime() + publishSeconds * 1000) });
      return this.insertNewKey(trx);
    });
    this.loaded = undefined;
    return kid;
  }

  async list(): Promise<Array<Pick<KeyRow, 'kid' | 'alg' | 'created_at' | 'retired_at' | 'publish_until'>>> {
    return this.db<KeyRow>('signing_keys').orderBy('created_at', 'desc').select('kid', 'alg', 'created_at', 'retired_at', 'publish_until');
  }

  async signingKey(): Promise<{ kid: string; key: CryptoKey }> {
    let loaded = await this.current();
    if (!loaded.signing) {
      await this.ensureActiveKey();
      loaded = await this.current(true);
    }
    if (!loaded.signing) throw new Error('no active signing key');
    return loaded.signing;
  }

  /** The public key for a kid; an unknown kid triggers one reload (a key rotated elsewhere). */
  async verificationKey(kid: string): Promise<CryptoKey | undefined> {
    const loaded = await this.current();
    const key = loaded.verifying.get(kid);
    const now = this.clock.now().getTime();
    // At most one reload a second for unknown kids, so forged kids cannot hammer the database.
    if (key || now - this.lastUnknownKidReload < 1000) return key;
    this.lastUnknownKidReload = now;
    return (await this.current(true)).verifying.get(kid);
  }

  async jwks(): Promise<{ keys: PublicJwk[] }> {
    return { keys: (await this.current()).published };
  }

  private async current(force = false): Promise<Loaded> {
    const fresh = this.loaded && this.clock.now().getTime() - this.loaded.at < cacheMs;
    if (fresh && !force) return this.loaded!;
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    this.loaded = await this.loading;
    return this.loaded;
  }

  private async load(): Promise<Loaded> {
    const now = this.clock.now();
    const rows = await this.db<KeyRow>('signing_keys')
      .where((q) => q.whereNull('retired_at').orWhere('publish_until', '>', now))
      .orderBy('created_at', 'desc');
    const verifying = new Map<string, CryptoKey>();
    const published: PublicJwk[] = [];
    let signing: Loaded['signing'];
    for (const row of rows) {
      verifying.set(row.kid, (await importJWK(row.public_jwk, row.alg)) as CryptoKey);
      published.push({ ...row.public_jwk, kid: row.kid, alg: row.alg, use: 'sig' });
      if (!signing && !row.retired_at) {
        signing = { kid: row.kid, key: await importPKCS8(this.encryption.decrypt(row.private_key_encrypted), row.alg) };
      }
    }
    return { at: now.getTime(), signing, verifying, published };
  }

  private async insertNewKey(trx: Db): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(signingAlg, { extractable: true });
    const kid = randomUUID();
    const { kty, crv, x, y } = await exportJWK(publicKey);
    await trx('signing_keys').insert({
      kid,
      alg: signingAlg,
      public_jwk: JSON.stringify({ kty, crv, x, y }),
      private_key_encrypted: this.encryption.encrypt(await exportPKCS8(privateKey)),
      created_at: this.clock.now(),
    });
    return kid;
  }
}
