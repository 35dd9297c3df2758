// Account 360: profile, tier with its explanation, the group tree, buying centre with gaps,
// competitors, plans, interactions, complaints, and its opportunities (with a create form).
import { useCallback, useEffect, useState, type FormEvent, type ReactNode } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";

import schemaJson from "../../api/generated/opportunity-svc.schemas.json";
import { accounts, idempotencyKey, opportunities, type AccountSchemas, type OpportunitySchemas } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { Field, ProblemBanner, useCheckProblem } from "../../lib/fields";
import { useLang, useMessages } from "../../lib/i18n";
import { date, dateTime, money } from "../../lib/format";
import { fieldMessage, problemOf, type Problem } from "../../lib/problem";
import { checkBody, type SchemaSet } from "../../lib/schema";
import { useUserNames } from "../../lib/users";
import { messages } from "./messages";

const oppSchemas = schemaJson as unknown as SchemaSet;
type S = AccountSchemas["schemas"];
type Opportunity = OpportunitySchemas["schemas"]["OpportunityOut"];

/** One read for a section; a failure leaves the section empty rather than the page. */
function useRead<T>(read: () => Promise<{ data?: T }>, deps: unknown[]): T | null {
  const [value, setValue] = useState<T | null>(null);
  useEffect(() => {
    read().then(({ data }) => setValue(data ?? null)).catch(() => setValue(null));
  }, deps);
  return value;
}

function Section({ id, title, children }: { id: string; title: string; children: ReactNode }) {
  return (
    <section className="card" aria-labelledby={id}>
      <h2 id={id}>{title}</h2>
      {children}
    </section>
  );
}

function TreeView({ node, current }: { node: S["TreeNode"]; current: string }) {
  const m = useMessages(messages);
  return (
    <li>
      {node.restricted ? <span className="muted">{m.restricted}</span>
        : node.id === current ? <strong>{node.name}</strong> : <Link to={`/accounts/${node.id}`}>{node.name}</Link>}
      {node.tier && <span className="badge"> {node.tier}</span>}
      {node.children.length > 0 && <ul>{node.children.map((c) => <TreeView key={c.id} node={c} current={current} />)}</ul>}
    </li>
  );
}

function NewOpportunity({ account, onCreated }: { account: S["AccountOut"]; onCreated: (o: Opportunity) => void }) {
  const m = useMessages(messages);
  const { user } = useAuth();
  const toProblem = useCheckProblem();
  const [draft, setDraft] = useState({ name: "", amount: "", currency: account.currency || "CNY", close_date: "" });
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const set = (k: keyof typeof draft, v: string) => setDraft((d) => ({ ...d, [k]: v }));

  async function submit(e: FormEvent) {
    e.preventDefault();
    const body = {
      account_id: account.id, name: draft.name.trim(), amount: draft.amount.trim(), currency: draft.currency.trim().toUpperCase(),
      close_date: draft.close_date, owner_id: user?.id ?? null,
    };
    const found = toProblem(checkBody(body, "OpportunityCreate", oppSchemas));
    setProblem(found);
    if (found) return;
    setBusy(true);
    try {
      const { data } = await opportunities.POST("/v1/opportunities", {
        params: { header: { "idempotency-key": idempotencyKey() } as never }, body,
      });
      onCreated(data!);
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  }
  const err = (f: string) => fieldMessage(problem, f);
  return (
    <form noValidate onSubmit={submit} aria-labelledby="new-opp-title">
      <h3 id="new-opp-title">{m.newOpportunity}</h3>
      <ProblemBanner problem={problem} />
      <div className="row">
        <Field label={m.oppName} error={err("name")}>
          {(p) => <input {...p} value={draft.name} onChange={(e) => set("name", e.target.value)} />}
        </Field>
        <Field label={m.amount} error={err("amount")}>
          {(p) => <input {...p} inputMode="decimal" value={draft.amount} onChange={(e) => set("amount", e.target.value)} />}
        </Field>
        <Field label={m.currency} error={err("currency")}>
          {(p) => <input {...p} maxLength={3} size={4} value={draft.currency} onChange={(e) => set("currency", e.target.value)} />}
        </Field>
        <Field label={m.closeDate} error={err("close_date")}>
          {(p) => <input {...p} type="date" value={draft.close_date} onChange={(e) => set("close_date", e.target.value)} />}
        </Field>
        <button type="submit" className="primary" disabled={busy}>{m.createOpportunity}</button>
      </div>
    </form>
  );
}

function Opportunities({ account }: { account: S["AccountOut"] }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const navigate = useNavigate();
  const [items, setItems] = useState<Opportunity[]>([]);
  const load = useCallback(() => {
    opportunities.GET("/v1/opportunities", { params: { query: { account_id: account.id, limit: 100 } } })
      .then(({ data }) => setItems(data!.items)).catch(() => setItems([]));
  }, [account.id]);
  useEffect(load, [load]);
  return (
    <Section id="acc-opps" title={m.opportunities}>
      <table>
        <thead><tr><th scope="col">{m.oppName}</th><th scope="col">{m.stage}</th><th scope="col" className="num">{m.amount}</th><th scope="col">{m.closeDate}</th></tr></thead>
        <tbody>
          {items.map((o) => (
            <tr key={o.id}>
              <td><Link to={`/opportunities/${o.id}`}>{o.name}</Link></td>
              <td>{o.stage}. {o.stage_name} ({o.status})</td>
              <td className="num">{money(o.amount, o.currency, lang)}</td>
              <td>{date(o.close_date, lang)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <NewOpportunity account={account} onCreated={(o) => navigate(`/opportunities/${o.id}`)} />
    </Section>
  );
}

function Profile({ account }: { account: S["AccountOut"] }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const names = useUserNames([account.owner_id]);
  const rows: [string, ReactNode][] = [
    [m.creditCode, account.credit_code ?? "—"], [m.industry, account.industry ?? "—"], [m.region, account.region ?? "—"],
    [m.status, account.status], [m.type, account.type ?? "—"], [m.tier, account.tier ?? "—"],
    [m.owner, account.owner_id ? names[account.owner_id] ?? "…" : "—"],
    [m.annualRevenue, money(account.annual_revenue, account.currency, lang)], [m.website, account.website ?? "—"],
  ];
  return (
    <Section id="acc-profile" title={m.profile}>
      <dl className="grid2 summary">{rows.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{v}</dd></div>)}</dl>
    </Section>
  );
}

function TierScore({ id }: { id: string }) {
  const m = useMessages(messages);
  const tier = useRead(() => accounts.GET("/v1/accounts/{account_id}/tier-score", { params: { path: { account_id: id } } }), [id]);
  if (!tier) return null;
  return (
    <Section id="acc-tier" title={m.tierScore}>
      <p>{m.recommended}: <strong>{tier.recommended_tier}</strong> · {m.current}: {tier.current_tier ?? "—"} · {m.points}: {tier.score}/{tier.max_score}</p>
      <ul>{tier.criteria.map((c) => <li key={c.name}><strong>{c.name}</strong> {c.points}/{c.max_points}: {c.explanation}</li>)}</ul>
    </Section>
  );
}

function Relations({ id }: { id: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const path = { params: { path: { account_id: id } } };
  const tree = useRead(() => accounts.GET("/v1/accounts/{account_id}/tree", path), [id]);
  const centre = useRead(() => accounts.GET("/v1/accounts/{account_id}/buying-centre", path), [id]);
  const contacts = useRead(() => accounts.GET("/v1/accounts/{account_id}/contacts", path), [id]);
  const competitors = useRead(() => accounts.GET("/v1/accounts/{account_id}/competitors", path), [id]);
  const plans = useRead(() => accounts.GET("/v1/accounts/{account_id}/plans", path), [id]);
  const interactions = useRead(() => accounts.GET("/v1/accounts/{account_id}/interactions", path), [id]);
  const complaints = useRead(() => accounts.GET("/v1/accounts/{account_id}/complaints", path), [id]);
  return (
    <div className="cols">
      <Section id="acc-tree" title={m.hierarchy}>
        {tree && (
          <ul className="tree">
            {tree.ancestors.map((a) => <li key={a.id}><Link to={`/accounts/${a.id}`}>{a.name ?? m.restricted}</Link></li>)}
            <TreeView node={tree.tree} current={id} />
          </ul>
        )}
      </Section>
      <Section id="acc-centre" title={m.buyingCentre}>
        <ul>{(contacts?.items ?? []).map((c) => <li key={c.id}>{c.name} · {c.title ?? "—"} · {c.buying_role ?? "—"} {c.attitude ? `· ${c.attitude}` : ""}</li>)}</ul>
        {centre && centre.gaps.length > 0 && (
          <>
            <h3>{m.gaps}</h3>
            <ul>{centre.gaps.map((g) => <li key={g.code} className="rating-bad">{g.detail}</li>)}</ul>
          </>
        )}
      </Section>
      <Section id="acc-competitors" title={m.competitors}>
        <ul>{(competitors?.items ?? []).map((c) => <li key={c.id}><strong>{c.competitor}</strong> {c.products_in_use ?? ""} {c.bottom_line ? `· ${c.bottom_line}` : ""}</li>)}</ul>
      </Section>
      <Section id="acc-plans" title={m.plans}>
        <ul>{(plans?.items ?? []).map((p) => <li key={p.id}>{p.title} · {p.period} · {m.relationshipStage}: {p.relationship_stage} · {p.status}</li>)}</ul>
      </Section>
      <Section id="acc-interactions" title={m.interactions}>
        <ul>{(interactions?.items ?? []).map((i) => <li key={i.id}>{dateTime(i.occurred_at, lang)} · {i.kind} · {i.subject}</li>)}</ul>
      </Section>
      <Section id="acc-complaints" title={m.complaints}>
        <ul>{(complaints?.items ?? []).map((c) => <li key={c.id}>{c.subject} · {m.severity}: {c.severity} · {c.status}</li>)}</ul>
      </Section>
    </div>
  );
}

export default function Account() {
  const m = useMessages(messages);
  const { id = "" } = useParams();
  const [account, setAccount] = useState<S["AccountOut"] | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  useEffect(() => {
    setAccount(null);
    accounts.GET("/v1/accounts/{account_id}", { params: { path: { account_id: id } } })
      .then(({ data }) => setAccount(data!)).catch((e) => setProblem(problemOf(e)));
  }, [id]);
  if (problem?.status === 404 || problem?.status === 422) {
    return <section><h1>{m.title}</h1><p className="problem" role="alert" data-testid="not-found">{m.notFound}</p><Link to="/accounts">{m.back}</Link></section>;
  }
  if (!account) return <><ProblemBanner problem={problem} /><p role="status">…</p></>;
  return (
    <section aria-labelledby="account-title">
      <p><Link to="/accounts">{m.back}</Link></p>
      <h1 id="account-title">{account.name}</h1>
      <Profile account={account} />
      <TierScore id={id} />
      <Opportunities account={account} />
      <Relations id={id} />
    </section>
  );
}
