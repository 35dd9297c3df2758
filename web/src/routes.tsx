// Every screen once: its path, the roles that may open it, and its nav label (from its messages).
// The API decides visibility; the roles here only keep screens out of the nav for users who could
// not use them.
import { lazy, useState, type ComponentType } from "react";
import { matchPath } from "react-router-dom";

import type { Role } from "./lib/auth";
import type { Messages } from "./lib/i18n";
import { messages as accountMessages } from "./screens/accounts/messages";
import { messages as forecastMessages } from "./screens/forecast/messages";
import { messages as pipelineMessages } from "./screens/pipeline/messages";
import { messages as teamMessages } from "./screens/team/messages";

export interface ScreenRoute {
  path: string;
  screen: ComponentType;
  // Fetches the screen's code; main.tsx calls it for the page being opened, beside the user read.
  preload: () => Promise<unknown>;
  roles: Role[];
  // Shown in the nav when set: the screen's own title.
  nav?: Messages<"title">;
}

const everyone: Role[] = ["rep", "manager", "admin"];

/**
 * A screen's code in its own chunk, fetched on first use (React.lazy) or earlier by `preload`.
 * Once fetched it renders directly: a lazy component that suspends, even for a chunk already in
 * memory, holds the page behind the Suspense fallback for React's reveal throttle (~300 ms), which
 * was a quarter of the console's first load. Each mount keeps the one it started with, so a
 * screen is never remounted when its chunk arrives.
 */
function screen(load: () => Promise<{ default: ComponentType }>): Pick<ScreenRoute, "screen" | "preload"> {
  let loaded: ComponentType | null = null;
  const preload = () => load().then((module) => {
    loaded = module.default;
    return module;
  });
  const Lazy = lazy(preload);
  function Screen() {
    const [Loaded] = useState(() => loaded);
    return Loaded ? <Loaded /> : <Lazy />;
  }
  return { screen: Screen, preload };
}

export const routes: ScreenRoute[] = [
  { path: "/", ...screen(() => import("./screens/pipeline/Pipeline")), roles: everyone, nav: pipelineMessages },
  { path: "/opportunities/:id", ...screen(() => import("./screens/opportunity/Opportunity")), roles: everyone },
  { path: "/forecast", ...screen(() => import("./screens/forecast/Forecast")), roles: everyone, nav: forecastMessages },
  { path: "/accounts", ...screen(() => import("./screens/accounts/Accounts")), roles: everyone, nav: accountMessages },
  { path: "/accounts/:id", ...screen(() => import("./screens/accounts/Account")), roles: everyone },
  { path: "/team", ...screen(() => import("./screens/team/Team")), roles: ["manager", "admin"], nav: teamMessages },
];

/** Starts fetching the code of the screen at `pathname` (none for sign-in or an unknown path). */
export function preloadScreen(pathname: string): void {
  const route = routes.find((r) => matchPath(r.path, pathname));
  route?.preload().catch(() => undefined); // a failed fetch is retried, and shown, by React.lazy
}
