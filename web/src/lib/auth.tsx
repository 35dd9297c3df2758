// The signed-in user: tokens from team-svc's token route, the user (name, role) read from team-svc.
// api.ts refreshes the short access token with the refresh token; a 401 that a refresh cannot cure,
// or the refresh token's expiry, sends the user to sign-in, remembering where they were.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from "react";
import { useLocation, useNavigate } from "react-router-dom";

import { team, type TeamSchemas } from "./api";
import {
  onUnauthorized,
  readSession,
  sessionEndsAt,
  sessionOf,
  signalUnauthorized,
  tokenSubject,
  writeSession,
} from "./session";

export type User = TeamSchemas["schemas"]["UserOut"];
export type Role = "rep" | "manager" | "admin";

interface AuthContext {
  user: User | null;
  loading: boolean;
  signIn: (email: string, password: string) => Promise<void>;
  signOut: () => void;
}

const Ctx = createContext<AuthContext>({ user: null, loading: true, signIn: async () => {}, signOut: () => {} });

async function loadUser(token: string): Promise<User> {
  const id = tokenSubject(token);
  if (!id) throw new Error("token without subject");
  const { data } = await team.GET("/v1/users/{user_id}", { params: { path: { user_id: id } } });
  return data!;
}

// The user of the session the tab holds, asked for once, by main.tsx before the first render: waiting
// for React's first effect would put a render and the screen's own reads behind it.
let startingUser: Promise<User> | null = null;

export function loadStartingUser(): void {
  const s = readSession();
  if (s && !startingUser) {
    startingUser = loadUser(s.token);
    startingUser.catch(() => undefined); // handled by AuthProvider's effect; no unhandled-rejection noise
  }
}

export function AuthProvider({ children }: { children: ReactNode }) {
  const [user, setUser] = useState<User | null>(null);
  const [loading, setLoading] = useState(true);
  const navigate = useNavigate();
  const location = useLocation();

  useEffect(() => {
    loadStartingUser();
    if (!startingUser) {
      setLoading(false);
      return;
    }
    let live = true;
    startingUser
      .then((u) => live && setUser(u))
      .catch(() => writeSession(null))
      .finally(() => live && setLoading(false));
    return () => {
      live = false;
    };
  }, []);

  // Back to sign-in on any 401, and back to this page after signing in again.
  useEffect(
    () =>
      onUnauthorized(() => {
        setUser(null);
        if (!window.location.pathname.startsWith("/signin")) {
          const next = window.location.pathname + window.location.search;
          navigate(`/signin?next=${encodeURIComponent(next)}&expired=1`, { replace: true });
        }
      }),
    [navigate],
  );

  // When the session can no longer be refreshed the user signs in again (a clean re-login).
  useEffect(() => {
    const s = readSession();
    if (!user || !s) return;
    const timer = window.setTimeout(signalUnauthorized, Math.min(2 ** 31 - 1, Math.max(0, sessionEndsAt(s) - Date.now())));
    return () => window.clearTimeout(timer);
  }, [user, location.key]);

  const signIn = useCallback(async (email: string, password: string) => {
    const { data } = await team.POST("/v1/auth/token", {
      body: { grant_type: "password", username: email, password },
      bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    const session = sessionOf(data!);
    writeSession(session);
    setUser(await loadUser(session.token));
  }, []);

  const signOut = useCallback(() => {
    // RFC 7009: the sign-in ends on the server too (its refresh token cannot be used again). The
    // user leaves at once whatever the answer; the access token ends at its expiry (15 min).
    const refreshToken = readSession()?.refreshToken;
    if (refreshToken) {
      void team
        .POST("/v1/auth/revoke", {
          body: { token: refreshToken, token_type_hint: "refresh_token" },
          bodySerializer: (body) => new URLSearchParams(body as Record<string, string>),
          headers: { "Content-Type": "application/x-www-form-urlencoded" },
        })
        .catch(() => undefined);
    }
    writeSession(null);
    setUser(null);
    navigate("/signin", { replace: true });
  }, [navigate]);

  const value = useMemo(() => ({ user, loading, signIn, signOut }), [user, loading, signIn, signOut]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useAuth(): AuthContext {
  return useContext(Ctx);
}

export function roleOf(user: User | null): Role | null {
  return (user?.role as Role | undefined) ?? null;
}
