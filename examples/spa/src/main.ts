import { confirmTwoFactor, createSession, enableTwoFactor, listSessions, register, revokeSession, verifyEmail, webStorage, type Session } from '@sesame/sdk';

// One session for the whole app, kept in localStorage: shared by the tabs of this origin, which
// take turns to refresh it (Web Locks), and kept across reloads.
const session = createSession({ baseUrl: import.meta.env.VITE_SESAME_URL ?? 'http://localhost:3000', storage: webStorage() });
const client = session.client;

function element<T extends HTMLElement>(selector: string): T {
  const found = document.querySelector<T>(selector);
  if (!found) throw new Error(`missing ${selector}`);
  return found;
}

function show(view: 'signed-out' | 'mfa' | 'signed-in'): void {
  for (const el of document.querySelectorAll<HTMLElement>('[data-view]')) el.hidden = el.dataset.view !== view;
}

function say(text: string, kind: 'info' | 'error' = 'info'): void {
  const message = element('#message');
  message.textContent = text;
  message.dataset.kind = kind;
}

/** Every Sésame error is problem+json with a readable `detail` and a stable `code`. */
function sayProblem(error: unknown): void {
  const problem = error as { detail?: string; code?: string } | undefined;
  say(problem?.detail ?? 'Sésame could not be reached.', 'error');
}

/** Runs `submit` with the form's fields; the button stays disabled meanwhile. */
function onSubmit(selector: string, submit: (fields: FormData, form: HTMLFormElement) => Promise<void>): void {
  const form = element<HTMLFormElement>(selector);
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const button = form.querySelector('button');
    if (button) button.disabled = true;
    submit(new FormData(form), form)
      .catch(sayProblem)
      .finally(() => {
        if (button) button.disabled = false;
      });
  });
}

const text = (fields: FormData, name: string) => String(fields.get(name) ?? '');

onSubmit('#signup', async (fields, form) => {
  const email = text(fields, 'email');
  const password = text(fields, 'password');
  const { error } = await register({
    client,
    body: { email, password, password_confirm: password, first_name: text(fields, 'first_name'), last_name: text(fields, 'last_name'), accept_terms: fields.get('accept_terms') === 'on', language: 'en' },
  });
  if (error) return sayProblem(error);
  form.reset();
  say(`Almost there: open the link we sent to ${email}.`);
});

let pendingMfaToken: string | undefined;

onSubmit('#signin', async (fields) => {
  const { data, error } = await session.signIn({ email: text(fields, 'email'), password: text(fields, 'password') });
  if (error || !data) return sayProblem(error);
  if ('mfa_required' in data) {
    pendingMfaToken = data.mfa_token;
    say('Enter the code from your authenticator app.');
    show('mfa');
  }
  // Otherwise the session reports signed_in, which renders the signed-in view.
});

onSubmit('#mfa-form', async (fields, form) => {
  const { error } = await session.verifyTwoFactor({ mfa_token: pendingMfaToken!, code: text(fields, 'code') });
  if (error) return sayProblem(error);
  pendingMfaToken = undefined;
  form.reset();
});

element('#mfa-enable').addEventListener('click', () => {
  void enableTwoFactor({ client }).then(({ data, error }) => {
    if (error || !data) return sayProblem(error);
    element('#mfa-secret').textContent = data.secret;
    element<HTMLImageElement>('#mfa-qr').src = data.qr_code;
    element('#mfa-setup').hidden = false;
    element('#mfa-enable').hidden = true;
  });
});

onSubmit('#mfa-confirm', async (fields) => {
  const { data, error } = await confirmTwoFactor({ client, body: { code: text(fields, 'code') } });
  if (error || !data) return sayProblem(error);
  element('#mfa-setup').hidden = true;
  element('#mfa-state').textContent = 'on';
  const list = element('#backup-codes');
  list.replaceChildren(...data.backup_codes.map((code) => Object.assign(document.createElement('li'), { textContent: code })));
  element('#backup').hidden = false;
  say('Two-factor authentication is on.');
});

function sessionRow(s: Session): HTMLLIElement {
  const row = document.createElement('li');
  row.dataset.testid = 'session';
  row.dataset.sessionId = s.id;
  row.dataset.current = String(s.current);
  const label = document.createElement('span');
  label.textContent = `${s.device_name ?? s.user_agent ?? 'Unknown device'} · ${s.auth_method} · since ${new Date(s.created_at).toLocaleString()}`;
  row.append(label);
  if (s.current) {
    row.append(Object.assign(document.createElement('span'), { className: 'badge', textContent: 'this browser' }));
  } else {
    const revoke = Object.assign(document.createElement('button'), { textContent: 'Revoke' });
    revoke.dataset.testid = 'revoke';
    revoke.addEventListener('click', () => {
      void revokeSession({ client, path: { session_id: s.id } }).then(({ error }) => (error ? sayProblem(error) : loadSessions()));
    });
    row.append(revoke);
  }
  return row;
}

async function loadSessions(): Promise<void> {
  const { data, error } = await listSessions({ client });
  // A revoked session answers 401: the session then reports session_revoked (handled below).
  if (error || !data) return;
  element('#sessions').replaceChildren(...data.items.map(sessionRow));
  element('#sessions').dataset.loaded = String(data.items.length);
}

element('#sessions-reload').addEventListener('click', () => void loadSessions());
element('#signout').addEventListener('click', () => void session.signOut());

function renderSignedIn(): void {
  const user = session.user!;
  element('#who').textContent = user.email ?? user.id;
  element('#mfa-state').textContent = user.mfa_enabled ? 'on' : 'off';
  element('#mfa-enable').hidden = user.mfa_enabled;
  element('#mfa-setup').hidden = true;
  element('#backup').hidden = true;
  show('signed-in');
  void loadSessions();
}

session.onChange((event) => {
  if (event.type === 'signed_in') {
    say('');
    renderSignedIn();
  } else if (event.type === 'signed_out') {
    show('signed-out');
    say('You are signed out.');
  } else if (event.type === 'session_revoked') {
    show('signed-out');
    say('Your session has ended. Please sign in again.', 'error');
  }
});

/** The link of the verification email: APP_URL/verify-email?token=… */
async function verifyFromLink(): Promise<void> {
  if (location.pathname !== '/verify-email') return;
  const token = new URLSearchParams(location.search).get('token') ?? '';
  history.replaceState(null, '', '/'); // the token leaves the address bar (and the history)
  const { error } = await verifyEmail({ client, body: { token } });
  if (error) sayProblem(error);
  else say('Your email is verified: you can sign in.');
}

await verifyFromLink();
if (await session.load()) renderSignedIn();
else show('signed-out');
document.body.dataset.ready = 'true';
