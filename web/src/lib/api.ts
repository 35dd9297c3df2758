// One typed client per service, generated from its OpenAPI document at build time (npm run gen).
// All on this origin: relative /v1/... URLs, the gateway routes them. The middleware is the one
// place that adds the bearer token, refreshes it (before it expires, or once on a 401, then sends the
// request again), turns a 401 the refresh cannot cure into "sign in again", and parses any non-2xx
// answer into a Problem (thrown as ProblemError), so every call site gets data or an exception.
import createClient, { type Middleware } from "openapi-fetch";

import type { paths as AccountPaths } from "../api/generated/account-svc";
import type { paths as ForecastPaths } from "../api/generated/forecast-svc";
import type { paths as OpportunityPaths } from "../api/generated/opportunity-svc";
import type { paths as TeamPaths } from "../api/generated/team-svc";
import { ProblemError, problemFromResponse } from "./problem";
import { currentToken, needsRefresh, refreshSession, signalUnauthorized } from "./session";

const TOKEN_PATH = "/v1/auth/token";
// A copy of each request in flight (by openapi-fetch's request id), to send again after a refresh.
const copies = new Map<string, Request>();

function isTokenRoute(request: Request): boolean {
  return new URL(request.url).pathname.endsWith(TOKEN_PATH);
}

function withToken(request: Request): Request {
  const token = currentToken();
  if (token) request.headers.set("Authorization", `Bearer ${token}`);
  return request;
}

/** One refresh and one more try of a request answered 401; null when the session cannot go on. */
async function retried(copy: Request | undefined): Promise<Response | null> {
  if (!copy || !(await refreshSession())) return null;
  const again = await fetch(withToken(copy));
  return again.status === 401 ? null : again;
}

const middleware: Middleware = {
  async onRequest({ request, id }) {
    if (isTokenRoute(request) || request.headers.has("Authorization")) return request;
    if (needsRefresh()) await refreshSession();
    copies.set(id, request.clone());
    return withToken(request);
  },
  async onResponse({ request, response, id }) {
    const copy = copies.get(id);
    copies.delete(id);
    // 304: a conditional read (If-None-Match) found nothing new, an answer and not a problem.
    if (response.ok || response.status === 304) return response;
    if (response.status === 401 && !isTokenRoute(request)) {
      const again = await retried(copy);
      if (again === null) {
        signalUnauthorized();
      } else if (again.ok) {
        return again;
      } else {
        throw new ProblemError(await problemFromResponse(again));
      }
    }
    throw new ProblemError(await problemFromResponse(response));
  },
  onError({ id }) {
    copies.delete(id);
  },
};

function client<Paths extends {}>() {
  const c = createClient<Paths>({ baseUrl: window.location.origin });
  c.use(middleware);
  return c;
}

export const accounts = client<AccountPaths>();
export const opportunities = client<OpportunityPaths>();
export const forecasts = client<ForecastPaths>();
export const team = client<TeamPaths>();

export type { AccountPaths, ForecastPaths, OpportunityPaths, TeamPaths };
export type { components as AccountSchemas } from "../api/generated/account-svc";
export type { components as ForecastSchemas } from "../api/generated/forecast-svc";
export type { components as OpportunitySchemas } from "../api/generated/opportunity-svc";
export type { components as TeamSchemas } from "../api/generated/team-svc";

/** The ETag of an answer, for the If-Match of the next change. */
export function etagOf(response: Response): string | undefined {
  return response.headers.get("ETag") ?? undefined;
}

/** A fresh Idempotency-Key, so a retried create does not create twice. */
export function idempotencyKey(): string {
  // randomUUID needs a secure context; plain http on a non-loopback host is not one.
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}
