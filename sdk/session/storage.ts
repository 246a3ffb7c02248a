/**
 * Where a session keeps its tokens. Any object with these three methods works (React Native's
 * AsyncStorage, an encrypted store, a cookie jar...); the methods may be synchronous or async.
 */
export interface SessionStorage {
  get(key: string): string | null | Promise<string | null>;
  set(key: string, value: string): void | Promise<void>;
  remove(key: string): void | Promise<void>;
  /**
   * Optional: calls `onChange` when another context (a browser tab) changed `key`, so the session
   * reports sign-in, refresh and sign-out made elsewhere. Returns the unsubscribe function.
   */
  subscribe?(key: string, onChange: () => void): () => void;
}

/** Tokens in this JavaScript context only (the default): gone on reload, invisible to other tabs. */
export function memoryStorage(): SessionStorage {
  const values = new Map<string, string>();
  const listeners = new Set<{ key: string; onChange: () => void }>();
  const changed = (key: string) => {
    for (const l of [...listeners]) if (l.key === key) l.onChange();
  };
  return {
    get: (key) => values.get(key) ?? null,
    set: (key, value) => {
      values.set(key, value);
      changed(key);
    },
    remove: (key) => {
      values.delete(key);
      changed(key);
    },
    subscribe: (key, onChange) => {
      const entry = { key, onChange };
      listeners.add(entry);
      return () => listeners.delete(entry);
    },
  };
}

interface StorageEventLike {
  key: string | null;
  storageArea: unknown;
}

interface EventTargetLike {
  addEventListener?(type: 'storage', listener: (event: StorageEventLike) => void): void;
  removeEventListener?(type: 'storage', listener: (event: StorageEventLike) => void): void;
}

/**
 * A Web Storage area: `localStorage` (the default) shares the session between the tabs of an
 * origin and keeps it across reloads; `sessionStorage` keeps it per tab. Anything script on the
 * page can read Web Storage, so an XSS flaw exposes the tokens: prefer memory where reloads may
 * sign the user out.
 */
export function webStorage(area: Storage = globalThis.localStorage): SessionStorage {
  return {
    get: (key) => area.getItem(key),
    set: (key, value) => area.setItem(key, value),
    remove: (key) => area.removeItem(key),
    subscribe: (key, onChange) => {
      const target = globalThis as EventTargetLike;
      if (typeof target.addEventListener !== 'function') return () => {};
      // `storage` events reach the other tabs of the origin, never the one that wrote.
      const listener = (event: StorageEventLike) => {
        if (event.storageArea === area && (event.key === key || event.key === null)) onChange();
      };
      target.addEventListener('storage', listener);
      return () => target.removeEventListener?.('storage', listener);
    },
  };
}
