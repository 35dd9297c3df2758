// The hierarchy two ways: reporting lines (who reports to whom, from the people this screen shows)
// and the org units nested under their parents with their members (GET /v1/org/tree).
import { team, type TeamSchemas } from "../../lib/api";
import { useMessages } from "../../lib/i18n";
import { Section, useLoad, type Loaded } from "../../lib/load";
import type { Directory, Person } from "./directory";
import { messages } from "./messages";
import { useRoleName } from "./words";

type UnitNode = TeamSchemas["schemas"]["TreeNode"];
type Member = TeamSchemas["schemas"]["TreeMember"];

function PersonLabel({ p }: { p: Pick<Person, "name" | "role" | "title" | "active"> }) {
  const m = useMessages(messages);
  const roleName = useRoleName();
  return (
    <>
      <strong>{p.name}</strong> <span className="muted">· {roleName(p.role)}{p.title ? ` · ${p.title}` : ""}</span>
      {!p.active && <span className="badge inactive"> {m.inactive}</span>}
    </>
  );
}

function ReportBranch({ person, below }: { person: Person; below: Map<string | null, Person[]> }) {
  const kids = below.get(person.id) ?? [];
  return (
    <li>
      <PersonLabel p={person} />
      {kids.length > 0 && <ul>{kids.map((k) => <ReportBranch key={k.id} person={k} below={below} />)}</ul>}
    </li>
  );
}

/** Roots: people whose superior is not among those shown (the manager themself, or the top). */
function ReportingLines({ dir }: { dir: Directory }) {
  const below = new Map<string | null, Person[]>();
  const roots: Person[] = [];
  const sorted = [...dir.people].sort((a, b) => a.name.localeCompare(b.name));
  for (const p of sorted) {
    if (p.superior_id && dir.byId.has(p.superior_id)) {
      below.set(p.superior_id, [...(below.get(p.superior_id) ?? []), p]);
    } else roots.push(p);
  }
  return <ul className="tree" data-testid="reporting-tree">{roots.map((r) => <ReportBranch key={r.id} person={r} below={below} />)}</ul>;
}

function UnitBranch({ node, names }: { node: UnitNode; names: Map<string, string> }) {
  const m = useMessages(messages);
  return (
    <li>
      <strong>{node.name}</strong> <span className="muted">· {node.kind}</span>
      {node.manager_id && <span className="muted"> · {m.manager}: {names.get(node.manager_id) ?? node.manager_id.slice(0, 8)}</span>}
      {!node.active && <span className="badge inactive"> {m.inactive}</span>}
      {(node.members.length > 0 || node.children.length > 0) && (
        <ul>
          {node.members.map((p: Member) => <li key={p.id} className="member"><PersonLabel p={p} /></li>)}
          {node.children.map((c) => <UnitBranch key={c.id} node={c} names={names} />)}
        </ul>
      )}
    </li>
  );
}

export function HierarchySection({ directory }: { directory: Loaded<Directory> }) {
  const m = useMessages(messages);
  const tree = useLoad(async () => (await team.GET("/v1/org/tree", { params: { query: { include_users: true } } })).data!, "org");
  const names = new Map<string, string>();
  const walk = (n: UnitNode) => {
    n.members.forEach((p) => names.set(p.id, p.name));
    n.children.forEach(walk);
  };
  tree.data?.roots.forEach(walk);
  directory.data?.people.forEach((p) => names.set(p.id, p.name));
  return (
    <>
      <Section id="team-reporting" title={m.reportingLines} loading={directory.loading} problem={directory.problem}
        onRetry={directory.reload}>
        {directory.data && <ReportingLines dir={directory.data} />}
      </Section>
      <Section id="team-org" title={m.orgUnits} loading={tree.loading} problem={tree.problem} onRetry={tree.reload}
        empty={!!tree.data && tree.data.roots.length === 0} emptyText={m.noUnits}>
        {tree.data && tree.data.roots.length > 0 && (
          <ul className="tree" data-testid="org-tree">{tree.data.roots.map((r) => <UnitBranch key={r.id} node={r} names={names} />)}</ul>
        )}
        {tree.data && tree.data.unplaced_users.length > 0 && (
          <>
            <h3>{m.unplaced}</h3>
            <ul className="inline-list">{tree.data.unplaced_users.map((p) => <li key={p.id}><PersonLabel p={p} /></li>)}</ul>
          </>
        )}
      </Section>
    </>
  );
}
