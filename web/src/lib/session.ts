// The signed-in user's token, kept in sessionStorage (a tab's sign-in ends with the tab). Who the
// user is comes from team-svc (GET /v1/users/{id}); the token's `sub` only says which user to read.
const KEY = "kam.session";

export interface StoredSession {
  token: string;
  expiresAt: number; // epoch ms
}

type Listener = () => void;
const listeners = new Set<Listener>();

export function readSession(): StoredSession | null {
  try {
    const raw = sessionStorage.getItem(KEY);
    if (!raw) return null;
    const s = JSON.parse(raw) as StoredSession;
    return s.expiresAt > Date.now() ? s : null;
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

/** Any API call answered 401: the session is over; the app goes to sign-in and comes back. */
export function onUnauthorized(listener: Listener): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function signalUnauthorized(): void {
  writeSession(null);
  listeners.forEach((l) => l());
}
