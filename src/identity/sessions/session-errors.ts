import { AppError } from '../../shared/errors.js';

/** 401 `session_revoked`: the session was ended (logout, revocation, its administrator's session). */
export const sessionEnded = () => new AppError('session_revoked', { detail: 'The session has ended.' });

/** 401 `session_expired`: the session outlived its lifetime. */
export const sessionExpired = () => new AppError('session_expired', { detail: 'The session has expired; log in again.' });

/** 401 `session_revoked`: the session's account was deleted meanwhile. */
export const accountGone = () => new AppError('session_revoked', { detail: 'The account no longer exists.' });

/** 403 `account_suspended` for a suspended account (README "Administration"). */
export function assertNotSuspended(user: { status: string }): void {
  if (user.status === 'suspended') throw new AppError('account_suspended', { detail: 'This account is suspended.' });
}
