// The forecast: pick a node (yourself or anyone below you) and a period; the roll-up as charts,
// kept live by a waiting read while the page is visible (the server answers as soon as an applied
// change moves the figures: If-None-Match + Prefer: wait), then the submission flow, funnel health
// and attainment for the same node and period.
import { useEffect, useRef, useState } from "react";

import { forecasts, team, type ForecastSchemas } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { BarChart } from "../../lib/charts";
import { Field, ProblemBanner } from "../../lib/fields";
import { useLang, useMessages } from "../../lib/i18n";
import { dateTime, money } from "../../lib/format";
import { problemOf, type Problem } from "../../lib/problem";
import { Health } from "./Health";
import { messages } from "./messages";
import { currentPeriod, PERIOD_KINDS, periodsOf, type PeriodKind } from "./periods";
import { Submission } from "./Submission";

type Rollup = ForecastSchemas["schemas"]["RollupOut"];
const POLL_MS = 1000;
const WAIT_S = 15; // each waiting read: below the gateway's read timeout (30 s)
const RETRY_MS = 2000; // after a failed read

/** Calls `tick` every `ms` while the page is visible, and at once when it becomes visible again. */
export function useVisiblePolling(tick: () => void, ms: number): boolean {
  const [visible, setVisible] = useState(!document.hidden);
  const ref = useRef(tick);
  ref.current = tick;
  useEffect(() => {
    const onChange = () => {
      setVisible(!document.hidden);
      if (!document.hidden) ref.current();
    };
    document.addEventListener("visibilitychange", onChange);
    const timer = window.setInterval(() => {
      if (!document.hidden) ref.current();
    }, ms);
    return () => {
      document.removeEventListener("visibilitychange", onChange);
      window.clearInterval(timer);
    };
  }, [ms]);
  return visible;
}

function useNodes() {
  const { user } = useAuth();
  const [nodes, setNodes] = useState<{ id: string; name: string; depth: number }[]>([]);
  useEffect(() => {
    if (!user) return;
    team.GET("/v1/users/{user_id}/subtree", { params: { path: { user_id: user.id } } })
      .then(({ data }) => setNodes(data!.users.map((u) => ({ id: u.id, name: u.name, depth: u.depth }))))
      .catch(() => setNodes([{ id: user.id, name: user.name, depth: 0 }]));
  }, [user]);
  return nodes;
}

function RollupView({ rollup }: { rollup: Rollup }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const cur = rollup.currency;
  const cats = m as unknown as Record<string, string>;
  return (
    <>
      <div className="figures">
        <div><div className="muted">{m.weighted}</div><div className="big" data-testid="weighted-amount" data-amount={rollup.weighted_amount}>{money(rollup.weighted_amount, cur, lang)}</div></div>
        <div><div className="muted">{m.openAmount}</div><div className="big">{money(rollup.open_amount, cur, lang)}</div></div>
        <div><div className="muted">{m.openCount}</div><div className="big">{rollup.open_count}</div></div>
        <div><div className="muted">{m.won}</div><div className="big">{money(rollup.won_amount, cur, lang)}</div></div>
        <div><div className="muted">{m.lost}</div><div className="big">{rollup.lost_count}</div></div>
      </div>
      <p className="muted">{m.asOf}: {dateTime(rollup.as_of, lang)}</p>
      <div className="cols">
        <BarChart title={m.stages} testId="stage-chart"
          series={[{ name: m.amount, colour: "#8fa9d8" }, { name: m.weightedAmount, colour: "#0b57d0" }]}
          rows={rollup.stages.map((s) => ({
            label: `${m.stage} ${s.stage} (${s.count})`,
            values: [Number(s.amount), Number(s.weighted_amount)],
            text: [money(s.amount, cur, lang), money(s.weighted_amount, cur, lang)],
          }))} />
        <BarChart title={m.categories} testId="category-chart"
          series={[{ name: m.amount, colour: "#1e6b34" }]}
          rows={rollup.categories.map((c) => ({
            label: `${cats[`cat_${c.category}`] ?? c.category} (${c.count})`,
            values: [Number(c.amount)],
            text: [money(c.amount, cur, lang)],
          }))} />
      </div>
    </>
  );
}

export default function Forecast() {
  const m = useMessages(messages);
  const { user } = useAuth();
  const nodes = useNodes();
  const [node, setNode] = useState(user?.id ?? "");
  const [kind, setKind] = useState<PeriodKind>("quarter");
  const [period, setPeriod] = useState(currentPeriod("quarter"));
  const [confirmedOnly, setConfirmedOnly] = useState(false);
  const [rollup, setRollup] = useState<Rollup | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [tick, setTick] = useState(0);

  // Funnel health and attainment re-read on this tick (they are not part of the roll-up's wait).
  const visible = useVisiblePolling(() => setTick((t) => t + 1), POLL_MS);

  // The roll-up: one read, then reads that wait for the figures to differ from the ETag held (200
  // with the new figures, or 304 when nothing changed for WAIT_S); stopped while the tab is hidden
  // and whenever the node, period or filter changes.
  useEffect(() => {
    if (!node || !visible) return;
    const stop = new AbortController();
    let tag: string | null = null;
    (async () => {
      while (!stop.signal.aborted) {
        try {
          const headers: Record<string, string> = tag ? { "If-None-Match": tag, Prefer: `wait=${WAIT_S}` } : {};
          const { data, response } = await forecasts.GET("/v1/rollups", {
            params: { query: { node, period, confirmed_only: confirmedOnly } }, headers, signal: stop.signal,
          });
          if (response.status === 200) {
            tag = response.headers.get("ETag");
            setRollup(data!);
          }
          setProblem(null);
        } catch (err) {
          if (stop.signal.aborted) return;
          setProblem(problemOf(err));
          await new Promise((done) => window.setTimeout(done, RETRY_MS));
        }
      }
    })();
    return () => stop.abort();
  }, [node, period, confirmedOnly, visible]);
  useEffect(() => setRollup(null), [node, period, confirmedOnly]);

  const kindName: Record<PeriodKind, string> = {
    month: m.month, quarter: m.quarter, year: m.year, fiscalQuarter: m.fiscalQuarter, fiscalYear: m.fiscalYear,
  };
  return (
    <section aria-labelledby="forecast-title">
      <h1 id="forecast-title">{m.title}</h1>
      <form className="card row" onSubmit={(e) => e.preventDefault()}>
        <Field label={m.node}>
          {(p) => (
            <select {...p} value={node} onChange={(e) => setNode(e.target.value)}>
              {nodes.map((n) => (
                <option key={n.id} value={n.id}>{"\u00a0\u00a0".repeat(n.depth)}{n.id === user?.id ? `${n.name} — ${m.me}` : n.name}</option>
              ))}
            </select>
          )}
        </Field>
        <Field label={m.periodKind}>
          {(p) => (
            <select {...p} value={kind} onChange={(e) => {
              const k = e.target.value as PeriodKind;
              setKind(k);
              setPeriod(currentPeriod(k));
            }}>
              {PERIOD_KINDS.map((k) => <option key={k} value={k}>{kindName[k]}</option>)}
            </select>
          )}
        </Field>
        <Field label={m.period}>
          {(p) => (
            <select {...p} value={period} onChange={(e) => setPeriod(e.target.value)}>
              {periodsOf(kind).map((x) => <option key={x} value={x}>{x}</option>)}
            </select>
          )}
        </Field>
        <label className="check">
          <input type="checkbox" checked={confirmedOnly} onChange={(e) => setConfirmedOnly(e.target.checked)} /> {m.confirmedOnly}
        </label>
        <span className="muted" role="status">{visible ? m.live : m.paused}</span>
      </form>
      <ProblemBanner problem={problem} />
      <section className="card" aria-label={m.title}>
        {rollup ? <RollupView rollup={rollup} /> : <p role="status">…</p>}
      </section>
      {node && <Health node={node} period={period} tick={tick} />}
      {node === user?.id && <Submission period={period} />}
    </section>
  );
}
