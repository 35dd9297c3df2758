// Accounts: search and list, the create form (a 409 duplicate offers to open or enrich the
// existing account), and the Pareto view of won revenue as a chart.
import { useCallback, useEffect, useState, type FormEvent } from "react";
import { Link, useNavigate } from "react-router-dom";

import schemaJson from "../../api/generated/account-svc.schemas.json";
import { accounts, idempotencyKey, type AccountSchemas } from "../../lib/api";
import { BarChart } from "../../lib/charts";
import { Field, ProblemBanner, useCheckProblem } from "../../lib/fields";
import { fmt, useLang, useMessages } from "../../lib/i18n";
import { money } from "../../lib/format";
import { fieldMessage, problemOf, type Problem } from "../../lib/problem";
import { checkBody, type SchemaSet } from "../../lib/schema";
import { messages } from "./messages";

const schemas = schemaJson as unknown as SchemaSet;
type Account = AccountSchemas["schemas"]["AccountOut"];
type Pareto = AccountSchemas["schemas"]["ParetoOut"];

interface Draft {
  name: string;
  credit_code: string;
  industry: string;
  region: string;
}
const EMPTY: Draft = { name: "", credit_code: "", industry: "", region: "" };

function bodyOf(d: Draft) {
  return {
    name: d.name.trim(),
    credit_code: d.credit_code.trim() || null,
    industry: d.industry.trim() || null,
    region: d.region.trim() || null,
  };
}

function CreateAccount({ onCreated }: { onCreated: () => void }) {
  const m = useMessages(messages);
  const navigate = useNavigate();
  const toProblem = useCheckProblem();
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [duplicate, setDuplicate] = useState<{ id: string; match: string } | null>(null);
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState(false);
  const set = (k: keyof Draft, v: string) => setDraft((d) => ({ ...d, [k]: v }));

  async function send(onDuplicate: "reject" | "enrich") {
    const body = bodyOf(draft);
    const found = toProblem(checkBody(body, "AccountCreate", schemas));
    setProblem(found);
    setDuplicate(null);
    setNotice("");
    if (found) return;
    setBusy(true);
    try {
      const { data } = await accounts.POST("/v1/accounts", {
        params: { query: { on_duplicate: onDuplicate }, header: { "idempotency-key": idempotencyKey() } as never },
        body,
      });
      const created = data as Account;
      setNotice(fmt(m.created, { name: created.name }));
      setDraft(EMPTY);
      onCreated();
      if (onDuplicate === "enrich") navigate(`/accounts/${created.id}`);
    } catch (err) {
      const p = problemOf(err);
      if (p.status === 409 && typeof p.extra.existing_id === "string") {
        setDuplicate({ id: p.extra.existing_id, match: String(p.extra.match ?? "") });
      } else {
        setProblem(p); // what was typed stays in the form
      }
    } finally {
      setBusy(false);
    }
  }

  const err = (f: string) => fieldMessage(problem, f);
  return (
    <form className="card" noValidate aria-labelledby="create-title" onSubmit={(e: FormEvent) => { e.preventDefault(); void send("reject"); }}>
      <h2 id="create-title">{m.createTitle}</h2>
      <ProblemBanner problem={problem} onDismiss={() => setProblem(null)} />
      {duplicate && (
        <div className="notice" role="alert" data-testid="duplicate-warning">
          <p>{fmt(m.duplicate, { name: draft.name, match: duplicate.match })}</p>
          <Link to={`/accounts/${duplicate.id}`}>{m.openExisting}</Link>{" "}
          <button type="button" disabled={busy} onClick={() => void send("enrich")}>{m.enrichExisting}</button>
        </div>
      )}
      <p role="status" className="ok" hidden={!notice}>{notice}</p>
      <div className="grid2">
        <Field label={m.name} error={err("name")}>
          {(p) => <input {...p} value={draft.name} onChange={(e) => set("name", e.target.value)} />}
        </Field>
        <Field label={m.creditCode} error={err("credit_code")}>
          {(p) => <input {...p} value={draft.credit_code} onChange={(e) => set("credit_code", e.target.value)} />}
        </Field>
        <Field label={m.industry} error={err("industry")}>
          {(p) => <input {...p} value={draft.industry} onChange={(e) => set("industry", e.target.value)} />}
        </Field>
        <Field label={m.region} error={err("region")}>
          {(p) => <input {...p} value={draft.region} onChange={(e) => set("region", e.target.value)} />}
        </Field>
      </div>
      <button type="submit" className="primary" disabled={busy}>{m.create}</button>
    </form>
  );
}

function ParetoView() {
  const m = useMessages(messages);
  const { lang } = useLang();
  const [pareto, setPareto] = useState<Pareto | null>(null);
  useEffect(() => {
    accounts.GET("/v1/accounts/pareto", { params: { query: { limit: 15 } } }).then(({ data }) => setPareto(data!)).catch(() => setPareto(null));
  }, []);
  if (!pareto || pareto.items.length === 0) return null;
  return (
    <section className="card" aria-labelledby="pareto-title">
      <h2 id="pareto-title">{m.pareto}</h2>
      <p>{fmt(m.paretoHint, { n: pareto.top_accounts, pct: pareto.threshold_pct })}</p>
      <BarChart title={m.pareto} testId="pareto-chart"
        series={[{ name: m.won, colour: "#0b57d0" }, { name: m.cumulative, colour: "#b9c6e4" }]}
        rows={pareto.items.map((i) => ({
          label: `${i.rank}. ${i.name.slice(0, 14)}`,
          values: [Number(i.share_pct), Number(i.cumulative_pct)],
          text: [`${money(i.won_amount, pareto.currency, lang)} (${i.share_pct}%)`, `${i.cumulative_pct}%`],
        }))} />
    </section>
  );
}

export default function Accounts() {
  const m = useMessages(messages);
  const [q, setQ] = useState("");
  const [items, setItems] = useState<Account[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);

  const load = useCallback(async (more?: string) => {
    try {
      const { data } = await accounts.GET("/v1/accounts", { params: { query: { q: q.trim() || undefined, limit: 50, cursor: more } } });
      setItems((prev) => (more ? [...prev, ...data!.items] : data!.items));
      setCursor(data!.next_cursor ?? null);
    } catch (err) {
      setProblem(problemOf(err));
    }
  }, [q]);
  useEffect(() => {
    const t = window.setTimeout(() => void load(), 250);
    return () => window.clearTimeout(t);
  }, [load]);

  return (
    <section aria-labelledby="accounts-title">
      <h1 id="accounts-title">{m.title}</h1>
      <CreateAccount onCreated={() => void load()} />
      <section className="card" aria-labelledby="list-title">
        <h2 id="list-title">{m.list}</h2>
        <ProblemBanner problem={problem} />
        <Field label={m.search}>
          {(p) => <input {...p} type="search" value={q} onChange={(e) => setQ(e.target.value)} />}
        </Field>
        <table>
          <thead><tr><th scope="col">{m.name}</th><th scope="col">{m.industry}</th><th scope="col">{m.region}</th><th scope="col">{m.tier}</th></tr></thead>
          <tbody>
            {items.map((a) => (
              <tr key={a.id}>
                <td><Link to={`/accounts/${a.id}`}>{a.name}</Link></td>
                <td>{a.industry ?? "—"}</td><td>{a.region ?? "—"}</td><td>{a.tier ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {cursor && <button type="button" onClick={() => void load(cursor)}>{m.loadMore}</button>}
      </section>
      <ParetoView />
    </section>
  );
}
