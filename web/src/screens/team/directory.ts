// Who the Team screen shows: an admin the whole directory (GET /v1/users, every page), a manager
// their subtree (GET /v1/users/{me}/subtree, inactive people included) — the people they answer
// for and may act on. The org units (GET /v1/org-units) name the units in lists and pickers.
import { team, type TeamSchemas } from "../../lib/api";
import type { User } from "../../lib/auth";
import { allPages } from "../../lib/load";

export type Person = TeamSchemas["schemas"]["UserOut"];
export type OrgUnit = TeamSchemas["schemas"]["OrgUnitOut"];

export interface Directory {
  people: Person[];
  units: OrgUnit[];
  byId: Map<string, Person>;
  unitById: Map<string, OrgUnit>;
}

export async function loadDirectory(me: User): Promise<Directory> {
  const peopleP: Promise<Person[]> = me.role === "admin"
    ? allPages(async (cursor) => (await team.GET("/v1/users", { params: { query: { cursor, limit: 500 } } })).data!)
    : team.GET("/v1/users/{user_id}/subtree", { params: { path: { user_id: me.id }, query: { include_inactive: true } } })
      .then(({ data }) => data!.users);
  const unitsP = allPages(async (cursor) => (await team.GET("/v1/org-units", { params: { query: { cursor, limit: 500 } } })).data!);
  const [people, units] = await Promise.all([peopleP, unitsP]);
  return { people, units, byId: new Map(people.map((p) => [p.id, p])), unitById: new Map(units.map((u) => [u.id, u])) };
}
