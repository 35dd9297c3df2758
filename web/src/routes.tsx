// Every screen once: its path, the roles that may open it, and its nav label (from its messages).
// The API decides visibility; the roles here only keep screens out of the nav for users who could
// not use them.
import { lazy, type ComponentType, type LazyExoticComponent } from "react";

import type { Role } from "./lib/auth";
import type { Messages } from "./lib/i18n";
import { messages as accountMessages } from "./screens/accounts/messages";
import { messages as forecastMessages } from "./screens/forecast/messages";
import { messages as pipelineMessages } from "./screens/pipeline/messages";
import { messages as teamMessages } from "./screens/team/messages";

export interface ScreenRoute {
  path: string;
  screen: LazyExoticComponent<ComponentType>;
  roles: Role[];
  // Shown in the nav when set: the screen's own title.
  nav?: Messages<"title">;
}

const everyone: Role[] = ["rep", "manager", "admin"];

export const routes: ScreenRoute[] = [
  { path: "/", screen: lazy(() => import("./screens/pipeline/Pipeline")), roles: everyone, nav: pipelineMessages },
  { path: "/opportunities/:id", screen: lazy(() => import("./screens/opportunity/Opportunity")), roles: everyone },
  { path: "/forecast", screen: lazy(() => import("./screens/forecast/Forecast")), roles: everyone, nav: forecastMessages },
  { path: "/accounts", screen: lazy(() => import("./screens/accounts/Accounts")), roles: everyone, nav: accountMessages },
  { path: "/accounts/:id", screen: lazy(() => import("./screens/accounts/Account")), roles: everyone },
  { path: "/team", screen: lazy(() => import("./screens/team/Team")), roles: ["manager", "admin"], nav: teamMessages },
];
