// The signed-in user's tokens, kept in sessionStorage (a tab's sign-in ends with the tab). Who the
// user is comes from team-svc (GET /v1/users/{id}); the token's `sub` only says which user to read.
// The access token is short (15 min); the rotating refresh token gets the next pair (refreshSession).
const KEY = "kam.session";
const TOKEN_PATH = "/v1/auth/token";

export interface StoredSession {
  token: string;
  expiresAt: number; // epoch ms
  refreshToken?: string | null; // none while the password must be changed
  refreshExpiresAt?: number | null; // epoch ms
}

/** A token answer of team-svc as the session to keep. */
export interface TokenAnswer {
  access_token: string;
  expires_in: number;
  refresh_token?: string | null;
  refresh_expires_in?: number | null;
}

export function sessionOf(answer: TokenAnswer): StoredSession {
  const now = Date.now();
  return {
    token: answer.access_token,
    expiresAt: now + answer.expires_in * 1000,
    refreshToken: answer.refresh_token ?? null,
    refreshExpiresAt: answer.refresh_expires_in ? now + answer.refresh_expires_in * 1000 : null,
  };
}

/** When the session is over for good: the refresh token's expiry, else the access token's. */
export function sessionEndsAt(s: StoredSession): number {
  return s.refreshToken && s.refreshExpiresAt ? s.refreshExpiresAt : s.expiresAt;
}

type Listener = () => void;
const listeners = new Set<Listener>();

export function readSession(): StoredSession | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as StoredSession;
    return sessionEndsAt(s) > Date.now() ? s : null;
  } catch {
    return null;
  }
}

export function writeSession(s: StoredSession | null): void {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

export function currentToken(): string | null {
  return readSession()?.token ?? null;
}

/** Whether the access token is (about to be) expired while a refresh token could replace it. */
export function needsRefresh(): boolean {
  const s = readSession();
  return !!s?.refreshToken && s.expiresAt - 10_000 < Date.now();
}

let refreshing: Promise<boolean> | null = null;

/** Exchange the refresh token for a new pair, once even when many calls ask at the same moment
 * (the refresh token rotates: a second exchange of the same one would end the session). */
export function refreshSession(): Promise<boolean> {
  if (refreshing) return refreshing;
  const refreshToken = readSession()?.refreshToken;
  if (!refreshToken) return Promise.resolve(false);
  refreshing = (async () => {
    try {
      const resp = await fetch(TOKEN_PATH, {
        method: "POST",
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ grant_type: "refresh_token", refresh_token: refreshToken }),
      });
      if (!resp.ok) return false;
      writeSession(sessionOf((await resp.json()) as TokenAnswer));
      return true;
    } catch {
      return false;
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

/** The user id the token was issued to (its `sub`), for reading the user from team-svc. */
export function tokenSubject(token: string): string | null {
  try {
    const part = token.split(".")[1];
    const json = atob(part.replace(/-/g, "+").replace(/_/g, "/"));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === "string" ? sub : null;
  } catch {
    return null;
  }
}

/** An API call answered 401 and a refresh did not help: the session is over; the app goes to sign-in
 * and comes back. */
export function onUnauthorized(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function signalUnauthorized(): void {
  writeSession(null);
  listeners.forEach((l) => l());
}
