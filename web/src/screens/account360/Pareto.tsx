// The Pareto view (GET /v1/accounts/pareto) as a plain SVG chart: won revenue per account as
// bars in rank order, the cumulative share as a line, the threshold as a dashed rule, this
// account's bar marked. The accounts are those the user may see (the service filters them); the
// same figures follow in a table for screen readers. Currency and close-date range are the
// route's own parameters; a bad one comes back as the service's problem, shown by its field.
import { useState, type FormEvent } from "react";

import { accounts, type AccountSchemas } from "../../lib/api";
import { Field } from "../../lib/fields";
import { compact, money } from "../../lib/format";
import { fmt, useLang, useMessages } from "../../lib/i18n";
import { fieldMessage } from "../../lib/problem";
import { Section, useLoad } from "./load";
import { messages } from "./messages";

type Pareto = AccountSchemas["schemas"]["ParetoOut"];
type Item = AccountSchemas["schemas"]["ParetoItem"];

const CHART_ITEMS = 30;
const W = 640;
const H = 220;
const PAD = { left: 48, right: 40, top: 12, bottom: 24 };

function Chart({ data, accountId }: { data: Pareto; accountId: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const items = data.items.slice(0, CHART_ITEMS);
  const max = Math.max(...items.map((i) => Number(i.won_amount)), 1);
  const innerW = W - PAD.left - PAD.right;
  const innerH = H - PAD.top - PAD.bottom;
  const step = innerW / Math.max(items.length, 1);
  const y = (v: number) => PAD.top + innerH - (v / max) * innerH;
  const yPct = (p: number) => PAD.top + innerH - (p / 100) * innerH;
  const line = items.map((i, k) => `${PAD.left + step * (k + 0.5)},${yPct(Number(i.cumulative_pct))}`).join(" ");
  const threshold = Number(data.threshold_pct);
  return (
    <figure className="chart">
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-labelledby="pareto-chart-title" data-testid="pareto-chart">
        <title id="pareto-chart-title">{m.paretoChart}</title>
        <line x1={PAD.left} x2={PAD.left} y1={PAD.top} y2={PAD.top + innerH} stroke="#8a93a3" />
        <line x1={PAD.left} x2={W - PAD.right} y1={PAD.top + innerH} y2={PAD.top + innerH} stroke="#8a93a3" />
        <text x={PAD.left - 4} y={PAD.top + 8} textAnchor="end">{compact(max, lang)}</text>
        <text x={PAD.left - 4} y={PAD.top + innerH} textAnchor="end">0</text>
        <text x={W - PAD.right + 4} y={PAD.top + 8}>100%</text>
        {items.map((i, k) => {
          const v = Number(i.won_amount);
          const mine = i.account_id === accountId;
          return (
            <rect key={i.account_id} x={PAD.left + step * k + step * 0.1} width={step * 0.8} y={y(v)} height={PAD.top + innerH - y(v)}
              className={`bar class-${i.pareto_class}${mine ? " mine" : ""}`}>
              <title>{`${i.rank}. ${i.name}: ${money(i.won_amount, data.currency, lang)} (${i.share_pct}%)`}</title>
            </rect>
          );
        })}
        <line x1={PAD.left} x2={W - PAD.right} y1={yPct(threshold)} y2={yPct(threshold)} className="threshold" />
        <text x={W - PAD.right + 4} y={yPct(threshold) + 4}>{threshold}%</text>
        {items.length > 1 && <polyline points={line} className="cumulative" fill="none" />}
      </svg>
      <figcaption className="legend">
        <span className="key bar-key" /> {m.legendBar} <span className="key line-key" /> {m.legendLine}{" "}
        <span className="key mine-key" /> {m.legendThis} · {fmt(m.threshold, { n: threshold })}
      </figcaption>
    </figure>
  );
}

function Table({ items, currency, accountId }: { items: Item[]; currency: string; accountId: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  return (
    <table>
      <thead>
        <tr>
          <th scope="col" className="num">{m.rank}</th><th scope="col">{m.account}</th>
          <th scope="col" className="num">{m.wonAmount}</th><th scope="col" className="num">{m.share}</th>
          <th scope="col" className="num">{m.cumulative}</th><th scope="col">{m.class}</th>
        </tr>
      </thead>
      <tbody>
        {items.map((i) => (
          <tr key={i.account_id} className={i.account_id === accountId ? "mine" : undefined}>
            <td className="num">{i.rank}</td>
            <th scope="row">{i.name}</th>
            <td className="num">{money(i.won_amount, currency, lang)}</td>
            <td className="num">{i.share_pct}%</td>
            <td className="num">{i.cumulative_pct}%</td>
            <td>{i.pareto_class}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

interface Query {
  currency: string;
  since: string;
  until: string;
}

export function ParetoSection({ accountId }: { accountId: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const [draft, setDraft] = useState<Query>({ currency: "CNY", since: "", until: "" });
  const [query, setQuery] = useState<Query>(draft);
  const { data, problem, loading, reload } = useLoad(async () => {
    const { data } = await accounts.GET("/v1/accounts/pareto", {
      params: { query: { currency: query.currency, since: query.since || undefined, until: query.until || undefined } },
    });
    return data!;
  }, `${query.currency}|${query.since}|${query.until}`);
  const apply = (e: FormEvent) => {
    e.preventDefault();
    setQuery({ ...draft, currency: draft.currency.trim().toUpperCase() });
  };
  const mine = data?.items.find((i) => i.account_id === accountId);
  const field = (name: keyof Query, label: string, type: string) => (
    <Field label={label} error={fieldMessage(problem, name)}>
      {(p) => <input {...p} type={type} value={draft[name]} onChange={(e) => setDraft({ ...draft, [name]: e.target.value })} />}
    </Field>
  );
  return (
    <Section id="a360-pareto" title={m.pareto} loading={loading} problem={problem} onRetry={reload}>
      <form className="row filters" onSubmit={apply} aria-label={m.pareto}>
        {field("currency", m.currency, "text")}
        {field("since", m.since, "date")}
        {field("until", m.until, "date")}
        <button type="submit" disabled={loading}>{m.apply}</button>
      </form>
      {data && (data.items.length === 0 ? <p className="muted">{m.noPareto}</p> : (
        <>
          <p data-testid="pareto-summary">
            {fmt(m.paretoSummary, {
              top: data.top_accounts, share: data.top_share_of_accounts_pct, threshold: data.threshold_pct,
              total: money(data.total_won, data.currency, lang),
            })}
          </p>
          <p>{mine ? fmt(m.inPareto, { rank: mine.rank, cls: mine.pareto_class, share: mine.share_pct })
            : fmt(m.notInPareto, { n: data.items.length })}</p>
          <Chart data={data} accountId={accountId} />
          <Table items={data.items.slice(0, CHART_ITEMS)} currency={data.currency} accountId={accountId} />
        </>
      ))}
      {data && Object.keys(data.other_currencies).length > 0 && (
        <p className="muted">{fmt(m.otherCurrencies, {
          list: Object.entries(data.other_currencies).map(([c, a]) => money(a, c, lang)).join(", "),
        })}</p>
      )}
    </Section>
  );
}
