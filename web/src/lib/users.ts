// Names for user ids (owners, team members, who changed what), read once per id from team-svc.
import { useEffect, useState } from "react";

import { team } from "./api";

const cache = new Map<string, Promise<string>>();

function nameOf(id: string): Promise<string> {
  let p = cache.get(id);
  if (!p) {
    p = team.GET("/v1/users/{user_id}", { params: { path: { user_id: id } } })
      .then(({ data }) => data!.name)
      .catch(() => id.slice(0, 8)); // someone you may not see: their id, shortened
    cache.set(id, p);
  }
  return p;
}

export function useUserNames(ids: (string | null | undefined)[]): Record<string, string> {
  const [names, setNames] = useState<Record<string, string>>({});
  const key = [...new Set(ids.filter((x): x is string => !!x))].sort().join(",");
  useEffect(() => {
    let live = true;
    const wanted = key ? key.split(",") : [];
    Promise.all(wanted.map(async (id) => [id, await nameOf(id)] as const)).then((pairs) => {
      if (live) setNames(Object.fromEntries(pairs));
    });
    return () => {
      live = false;
    };
  }, [key]);
  return names;
}
