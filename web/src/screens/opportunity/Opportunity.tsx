// The opportunity page: its fields and lines (edit), stage history, assessment, tender, team and
// confirmation. A 404 (e.g. another rep's opportunity) says "not found".
import { useEffect, useState } from "react";
import { Link, useParams } from "react-router-dom";

import { accounts, opportunities } from "../../lib/api";
import { ProblemBanner } from "../../lib/fields";
import { fmt, useLang, useMessages } from "../../lib/i18n";
import { date, dateTime, money } from "../../lib/format";
import { useUserNames } from "../../lib/users";
import { Assessment } from "./Assessment";
import { EditForm } from "./EditForm";
import { messages } from "./messages";
import { SalesTeam } from "./SalesTeam";
import { Tender } from "./Tender";
import { useOpportunity, type OppSchemas, type Opportunity as Opp } from "./useOpportunity";

function History({ opp }: { opp: Opp }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const [entries, setEntries] = useState<OppSchemas["StageHistoryEntry"][]>([]);
  useEffect(() => {
    opportunities.GET("/v1/opportunities/{opp_id}/stage-history", { params: { path: { opp_id: opp.id } } })
      .then(({ data }) => setEntries(data!))
      .catch(() => setEntries([]));
  }, [opp.id, opp.version]);
  const names = useUserNames(entries.map((e) => e.changed_by));
  return (
    <section className="card" aria-labelledby="history-title">
      <h2 id="history-title">{m.history}</h2>
      <ol className="timeline">
        {entries.map((e, i) => {
          const kind = (m as Record<string, string>)[`kind_${e.kind}`] ?? e.kind;
          return (
            <li key={i}>
              <strong>{kind}</strong> {e.from_stage ? `${e.from_stage} → ` : ""}{e.to_stage}
              {" · "}{dateTime(e.changed_at, lang)}
              {e.changed_by && <> · {m.changedBy}: {names[e.changed_by] ?? "…"}</>}
              {e.days_in_stage !== null && e.days_in_stage !== undefined && (
                <> · {fmt(m.daysInStage, { n: e.days_in_stage.toFixed(1) })}{e.left_at ? "" : ` (${m.current})`}</>
              )}
              {e.reason && <div className="muted">{e.reason}</div>}
            </li>
          );
        })}
      </ol>
    </section>
  );
}

function Summary({ opp }: { opp: Opp }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const [accountName, setAccountName] = useState("");
  const names = useUserNames([opp.owner_id]);
  useEffect(() => {
    accounts.GET("/v1/accounts/{account_id}", { params: { path: { account_id: opp.account_id } } })
      .then(({ data }) => setAccountName(data!.name))
      .catch(() => setAccountName(opp.account_id.slice(0, 8)));
  }, [opp.account_id]);
  const status = opp.status === "won" ? m.won : opp.status === "lost" ? m.lost : m.open;
  return (
    <dl className="card grid2 summary">
      <div><dt>{m.account}</dt><dd><Link to={`/accounts/${opp.account_id}`}>{accountName || "…"}</Link></dd></div>
      <div><dt>{m.stage}</dt><dd data-testid="opp-stage">{opp.stage}. {opp.stage_name}</dd></div>
      <div><dt>{m.status}</dt><dd>{status}{opp.close_reason ? ` · ${opp.close_reason}` : ""}</dd></div>
      <div><dt>{m.amount}</dt><dd>{money(opp.amount, opp.currency, lang)}</dd></div>
      <div><dt>{m.probability}</dt><dd>{opp.probability}%</dd></div>
      <div><dt>{m.closeDate}</dt><dd>{date(opp.close_date, lang)}</dd></div>
      <div><dt>{m.owner}</dt><dd>{names[opp.owner_id] ?? "…"}</dd></div>
      <div><dt>{m.category}</dt><dd>{opp.forecast_category ?? "—"}</dd></div>
    </dl>
  );
}

export default function Opportunity() {
  const m = useMessages(messages);
  const { id = "" } = useParams();
  const { opp, etag, problem, reload, changed } = useOpportunity(id);

  if (problem?.status === 404 || problem?.status === 422) {
    return (
      <section aria-labelledby="opp-title">
        <h1 id="opp-title">{m.title}</h1>
        <p className="problem" role="alert" data-testid="not-found">{m.notFound}</p>
        <Link to="/">{m.back}</Link>
      </section>
    );
  }
  if (!opp) return <><ProblemBanner problem={problem} /><p role="status">{m.loading}</p></>;
  return (
    <section aria-labelledby="opp-title">
      <p><Link to="/">{m.back}</Link></p>
      <h1 id="opp-title">{opp.name}</h1>
      <ProblemBanner problem={problem} />
      <Summary opp={opp} />
      <EditForm key={`edit-${opp.id}`} opp={opp} etag={etag} onSaved={(o, r) => void changed(o, r)} onStale={reload} />
      <History opp={opp} />
      <Assessment opp={opp} etag={etag} onChanged={reload} />
      <Tender opp={opp} etag={etag} onChanged={reload} />
      <SalesTeam opp={opp} etag={etag} onChanged={reload} />
    </section>
  );
}
