// The buying centre (GET /v1/accounts/{id}/buying-centre): the customer's org chart with each
// contact's buying role and level, counts by role, department and level, and our coverage gaps
// (the gap codes in words, with the service's detail that names the person).
import { accounts } from "../../lib/api";
import { fmt, useMessages } from "../../lib/i18n";
import { Section, useLoad } from "./load";
import { messages } from "./messages";
import { useWords } from "./words";

/** One contact of the org chart as account-svc nests it (records/domain/buying_centre.py). */
interface ChartNode {
  id: string;
  name: string;
  title?: string | null;
  buying_role?: string | null;
  level?: string | null;
  reports?: ChartNode[];
}

function Person({ node }: { node: ChartNode }) {
  const words = useWords();
  const reports = node.reports ?? [];
  const role = node.buying_role ?? "";
  return (
    <li>
      <div className={`orgnode role-${role || "none"}`}>
        <strong>{node.name}</strong>
        {node.title && <div className="muted">{node.title}</div>}
        <div>
          {role && <span className="badge">{words(role)}</span>} {node.level && <span className="muted">{words(node.level)}</span>}
        </div>
      </div>
      {reports.length > 0 && <ul>{reports.map((r) => <Person key={r.id} node={r} />)}</ul>}
    </li>
  );
}

function Counts({ title, counts }: { title: string; counts: Record<string, number> | undefined }) {
  const words = useWords();
  const entries = Object.entries(counts ?? {});
  if (entries.length === 0) return null;
  return (
    <div>
      <h3>{title}</h3>
      <ul className="inline-list">
        {entries.map(([k, n]) => <li key={k}>{words(k)}: <strong>{n}</strong></li>)}
      </ul>
    </div>
  );
}

export function BuyingCentreSection({ accountId }: { accountId: string }) {
  const m = useMessages(messages);
  const words = useWords();
  const { data, problem, loading, reload } = useLoad(async () => {
    const { data } = await accounts.GET("/v1/accounts/{account_id}/buying-centre", {
      params: { path: { account_id: accountId } },
    });
    return data!;
  }, accountId);
  const chart = (data?.org_chart ?? []) as unknown as ChartNode[];
  return (
    <Section id="a360-buying-centre" title={m.buyingCentre} loading={loading} problem={problem} onRetry={reload}>
      {data && (
        <>
          <p>{fmt(m.contacts, { n: data.contacts })}</p>
          <h3>{m.orgChart}</h3>
          {chart.length === 0 ? <p className="muted">{m.noContacts}</p> : (
            <ul className="orgchart" data-testid="org-chart">{chart.map((c) => <Person key={c.id} node={c} />)}</ul>
          )}
          <div className="grid2">
            <Counts title={m.byRole} counts={data.counts.by_buying_role} />
            <Counts title={m.byDepartment} counts={data.counts.by_department} />
            <Counts title={m.byLevel} counts={data.counts.by_level} />
          </div>
          <h3>{m.gaps}</h3>
          {data.gaps.length === 0 ? <p className="ok">{m.noGaps}</p> : (
            <ul className="gaps" data-testid="coverage-gaps">
              {data.gaps.map((g, i) => (
                <li key={`${g.code}-${i}`}><strong>{words(g.code)}</strong> <span className="muted">({g.detail})</span></li>
              ))}
            </ul>
          )}
        </>
      )}
    </Section>
  );
}
