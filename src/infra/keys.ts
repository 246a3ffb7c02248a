import { createCipheriv, createDecipheriv, createHash, randomBytes, randomUUID } from 'node:crypto';
import { exportJWK, exportPKCS8, generateKeyPair, importPKCS8, importJWK, type JWK, type CryptoKey } from 'jose';
import type { Db } from './db.js';
import type { Clock } from './clock.js';

export const signingAlg = 'ES256';
/** How long clients may cache the JWKS (Cache-Control max-age). */
export const jwksMaxAgeSeconds = 300;
/** How long an instance keeps its loaded key set. */
const cacheMs = 60_000;
/** A rotated-in key signs only once every JWKS cache and every instance has seen it. */
export const defaultActivationDelaySeconds = jwksMaxAgeSeconds + cacheMs / 1000;

interface KeyRow {
  kid: string;
  alg: string;
  public_jwk: JWK;
  private_key_encrypted: string;
  created_at: Date;
  activates_at: Date;
  retired_at: Date | null;
  publish_until: Date | null;
}

export interface PublicJwk extends JWK {
  kid: string;
  alg: string;
  use: 'sig';
}

export class KeyDecryptionError extends Error {}

/**
 * AES-256-GCM with a key derived from KEY_ENCRYPTION_KEY: private keys never rest in clear.
 * `context` separates the keys derived for different kinds of secret (signing keys, TOTP secrets).
 */
export class KeyEncryption {
  private readonly key: Buffer;
  constructor(secret: string, context = 'sesame-signing-keys') {
    this.key = createHash('sha256').update(`${context}:${secret}`).digest();
  }
  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), data.toString('base64url')].join('.');
  }
  decrypt(sealed: string): string {
    const [version, iv, tag, data] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || !data) throw new KeyDecryptionError('unknown signing key encryption format');
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new KeyDecryptionError('a signing key cannot be decrypted: KEY_ENCRYPTION_KEY is not the one it was encrypted with');
    }
  }
}

interface Signer {
  kid: string;
  key: CryptoKey;
  activatesAt: number;
  retiredAt: number | null;
}

interface Loaded {
  at: number;
  signers: Signer[]; // newest activation first
  verifying: Map<string, CryptoKey>;
  published: PublicJwk[];
}

/**
 * Signing keys shared by every instance through PostgreSQL. A rotation publishes the next key
 * at once but lets it sign only after the activation delay, so JWKS caches never miss it; the
 * previous key then retires and stays published until every token it signed has expired.
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

  /** Creates a first key when none signs (first start). Safe when instances race. */
  async ensureActiveKey(): Promise<void> {
    await this.db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['sesame:signing-keys']);
      const active = await trx<KeyRow>('signing_keys').whereNull('retired_at').first('kid');
      if (!active) await this.insertNewKey(trx, this.clock.now());
    });
    this.loaded = undefined;
  }

  /**
   * Rotates: a new key, published now, signs from `activateInSeconds` on (0 for an emergency,
   * such as a leaked key); the keys it replaces retire then and stay published `publishSeconds`
   * longer (the longest access-token lifetime).
   */
  async rotate(publishSeconds: number, activateInSeconds = defaultActivationDelaySeconds): Promise<{ kid: string; activatesAt: Date }> {
    const result = await this.db.transaction(async (trx) => {
      await trx.raw('select pg_advisory_xact_lock(hashtext(?))', ['sesame:signing-keys']);
      const activatesAt = new Date(this.clock.now().getTime() + activateInSeconds * 1000);
      await trx('signing_keys')
        .whereNull('retired_at')
        .update({ retired_at: activatesAt, publish_until: new Date(activatesAt.getTime() + publishSeconds * 1000) });
      return { kid: await this.insertNewKey(trx, activatesAt), activatesAt };
    });
    this.loaded = undefined;
    return result;
  }

  async list(): Promise<Array<Pick<KeyRow, 'kid' | 'alg' | 'created_at' | 'activates_at' | 'retired_at' | 'publish_until'>>> {
    return this.db<KeyRow>('signing_keys').orderBy('activates_at', 'desc').select('kid', 'alg', 'created_at', 'activates_at', 'retired_at', 'publish_until');
  }

  /** The key that signs now (chosen by the clock at each call, not at load time). */
  async signingKey(): Promise<{ kid: string; key: CryptoKey }> {
    let signer = this.currentSigner(await this.current());
    if (!signer) {
      await this.ensureActiveKey();
      signer = this.currentSigner(await this.current(true));
    }
    if (!signer) throw new Error('no signing key is active');
    return signer;
  }

  /** The public key for a kid; an unknown kid triggers a reload (a key rotated elsewhere). */
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

  private currentSigner(loaded: Loaded): Signer | undefined {
    const now = this.clock.now().getTime();
    const unretired = loaded.signers.filter((s) => s.retiredAt === null || s.retiredAt > now);
    // A clock behind every activation (skew) falls back to the earliest key rather than failing.
    return unretired.find((s) => s.activatesAt <= now) ?? unretired.at(-1);
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
      .where((q) => q.whereNull('publish_until').orWhere('publish_until', '>', now))
      .orderBy('activates_at', 'desc');
    const verifying = new Map<string, CryptoKey>();
    const published: PublicJwk[] = [];
    const signers: Signer[] = [];
    for (const row of rows) {
      verifying.set(row.kid, (await importJWK(row.public_jwk, row.alg)) as CryptoKey);
      published.push({ ...row.public_jwk, kid: row.kid, alg: row.alg, use: 'sig' });
      if (row.retired_at === null || row.retired_at > now) {
        const key = await importPKCS8(this.encryption.decrypt(row.private_key_encrypted), row.alg);
        signers.push({ kid: row.kid, key, activatesAt: row.activates_at.getTime(), retiredAt: row.retired_at?.getTime() ?? null });
      }
    }
    return { at: now.getTime(), signers, verifying, published };
  }

  private async insertNewKey(trx: Db, activatesAt: Date): Promise<string> {
    const { publicKey, privateKey } = await generateKeyPair(signingAlg, { extractable: true });
    const kid = randomUUID();
    const { kty, crv, x, y } = await exportJWK(publicKey);
    await trx('signing_keys').insert({
      kid,
      alg: signingAlg,
      public_jwk: JSON.stringify({ kty, crv, x, y }),
      private_key_encrypted: this.encryption.encrypt(await exportPKCS8(privateKey)),
      created_at: this.clock.now(),
      activates_at: activatesAt,
    });
    return kid;
  }
}
