// Territories nested under their parents, each with its owner, org unit and assignment rules
// (GET /v1/territories, every page): a rule's empty criterion means "any value"; priority 1 is
// checked first. Read-only here: the API's territory and rule changes are admin routes the
// console does not offer yet.
import { team, type TeamSchemas } from "../../lib/api";
import { useMessages } from "../../lib/i18n";
import { useUserNames } from "../../lib/users";
import { allPages, Section, useLoad } from "../../lib/load";
import type { Directory } from "./directory";
import { messages } from "./messages";

type Territory = TeamSchemas["schemas"]["TerritoryOut"];
type Rule = TeamSchemas["schemas"]["RuleOut"];

function Rules({ rules }: { rules: Rule[] }) {
  const m = useMessages(messages);
  if (rules.length === 0) return <p className="muted">{m.noRules}</p>;
  const list = (xs: string[]) => (xs.length ? xs.join(", ") : <span className="muted">{m.any}</span>);
  return (
    <table className="rules">
      <thead>
        <tr>
          <th scope="col" className="num">{m.priority}</th><th scope="col">{m.name}</th><th scope="col">{m.regions}</th>
          <th scope="col">{m.industries}</th><th scope="col">{m.sizeBands}</th><th scope="col" className="num">{m.namedAccounts}</th>
        </tr>
      </thead>
      <tbody>
        {[...rules].sort((a, b) => a.priority - b.priority).map((r) => (
          <tr key={r.id}>
            <td className="num">{r.priority}</td>
            <th scope="row">{r.name}</th>
            <td>{list(r.regions)}</td>
            <td>{list(r.industries)}</td>
            <td>{list(r.size_bands)}</td>
            <td className="num">{r.account_ids.length}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

function TerritoryBranch({ t, below, names, dir }: {
  t: Territory;
  below: Map<string, Territory[]>;
  names: Record<string, string>;
  dir: Directory | null;
}) {
  const m = useMessages(messages);
  const kids = below.get(t.id) ?? [];
  const unit = t.org_unit_id ? dir?.unitById.get(t.org_unit_id)?.name : null;
  return (
    <li>
      <article aria-label={t.name} className="territory">
        <h3>{t.name} {!t.active && <span className="badge inactive">{m.inactive}</span>}</h3>
        <p className="muted">
          {m.owner}: {names[t.owner_id] ?? "…"}{unit && <> · {m.orgUnit}: {unit}</>}
          {t.description && <> · {t.description}</>}
        </p>
        <Rules rules={t.rules} />
      </article>
      {kids.length > 0 && <ul>{kids.map((k) => <TerritoryBranch key={k.id} t={k} below={below} names={names} dir={dir} />)}</ul>}
    </li>
  );
}

export function TerritoriesSection({ dir }: { dir: Directory | null }) {
  const m = useMessages(messages);
  const { data, problem, loading, reload } = useLoad(
    () => allPages(async (cursor) => (await team.GET("/v1/territories", { params: { query: { cursor, limit: 500 } } })).data!),
    "territories",
  );
  const names = useUserNames((data ?? []).map((t) => t.owner_id));
  const ids = new Set((data ?? []).map((t) => t.id));
  const below = new Map<string, Territory[]>();
  const roots: Territory[] = [];
  for (const t of [...(data ?? [])].sort((a, b) => a.name.localeCompare(b.name))) {
    if (t.parent_id && ids.has(t.parent_id)) below.set(t.parent_id, [...(below.get(t.parent_id) ?? []), t]);
    else roots.push(t);
  }
  return (
    <Section id="team-territories" title={m.territories} loading={loading} problem={problem} onRetry={reload}
      empty={!!data && data.length === 0} emptyText={m.noTerritories}>
      {roots.length > 0 && (
        <ul className="tree" data-testid="territories">
          {roots.map((t) => <TerritoryBranch key={t.id} t={t} below={below} names={names} dir={dir} />)}
        </ul>
      )}
    </Section>
  );
}
