export { createSession, SesameSession, SessionRefreshError, type Clock, type LockManagerLike, type SessionEvent, type SessionOptions } from './session.js';
export { memoryStorage, webStorage, type SessionStorage } from './storage.js';
export type { StoredSession } from './stored-session.js';
