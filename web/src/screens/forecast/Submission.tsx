// The submission flow, level by level: create your record (pre-filled from your confirmed
// opportunities and your reports' submissions), adjust a category with a reason, submit to your
// superior, see who below you has not submitted; at the business unit, publish with the channel
// forecasts beside it. Each change sends If-Match with the record's version.
import { useCallback, useEffect, useState, type FormEvent } from "react";

import { forecasts, type ForecastSchemas } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { Field, ProblemBanner } from "../../lib/fields";
import { useLang, useMessages } from "../../lib/i18n";
import { dateTime, money } from "../../lib/format";
import { fieldMessage, problemOf, type Problem } from "../../lib/problem";
import { useUserNames } from "../../lib/users";
import { messages } from "./messages";

type Record_ = ForecastSchemas["schemas"]["ForecastOut"];
const CATEGORIES = ["pipeline", "best_case", "commit", "closed", "omitted"] as const;
const ADJUSTABLE = ["commit", "best_case", "pipeline"] as const;

function Figures({ record }: { record: Record_ }) {
  const m = useMessages(messages) as unknown as Record<string, string>;
  const { lang } = useLang();
  return (
    <table>
      <caption className="sr-only">{m.figures}</caption>
      <thead><tr>{CATEGORIES.map((c) => <th key={c} scope="col" className="num">{m[`cat_${c}`]}</th>)}</tr></thead>
      <tbody><tr>{CATEGORIES.map((c) => <td key={c} className="num">{money(record.figures[c], record.currency, lang)}</td>)}</tr></tbody>
    </table>
  );
}

export function Submission({ period }: { period: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const { user } = useAuth();
  const [record, setRecord] = useState<Record_ | null>(null);
  const [loaded, setLoaded] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [category, setCategory] = useState<(typeof ADJUSTABLE)[number]>("commit");
  const [amount, setAmount] = useState("");
  const [reason, setReason] = useState("");
  const [reasonMissing, setReasonMissing] = useState(false);
  const [note, setNote] = useState("");
  const [channel, setChannel] = useState("");
  const [channelAmount, setChannelAmount] = useState("");
  const names = useUserNames([...(record?.missing ?? []), ...(record?.newer_child_submissions ?? [])]);

  const load = useCallback(async () => {
    if (!user) return;
    try {
      const { data } = await forecasts.GET("/v1/forecasts", { params: { query: { period, owner: user.id, limit: 1 } } });
      const first = data!.items[0];
      if (first) {
        const full = await forecasts.GET("/v1/forecasts/{record_id}", { params: { path: { record_id: first.id } } });
        setRecord(full.data!);
      } else {
        setRecord(null);
      }
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setLoaded(true);
    }
  }, [period, user]);

  useEffect(() => {
    setLoaded(false);
    void load();
  }, [load]);

  async function act(action: () => Promise<{ data?: Record_ }>) {
    setBusy(true);
    setProblem(null);
    try {
      const { data } = await action();
      if (data) setRecord(data);
    } catch (err) {
      setProblem(problemOf(err));
      if (problemOf(err).status === 412) await load();
    } finally {
      setBusy(false);
    }
  }

  const header = { "if-match": record ? `"${record.version}"` : undefined };
  const record_id = record?.id ?? "";

  function adjust(e: FormEvent) {
    e.preventDefault();
    if (!reason.trim()) {
      setReasonMissing(true);
      return;
    }
    setReasonMissing(false);
    void act(() => forecasts.POST("/v1/forecasts/{record_id}/adjustments", {
      params: { path: { record_id }, header }, body: { category, amount: amount.trim() || null, reason: reason.trim() },
    }));
  }

  if (!loaded) return null;
  return (
    <section className="card" aria-labelledby="submission-title">
      <h2 id="submission-title">{m.submission} · {period}</h2>
      <ProblemBanner problem={problem} onDismiss={() => setProblem(null)} />
      {!record && (
        <>
          <p>{m.noRecord}</p>
          <button type="button" className="primary" disabled={busy}
            onClick={() => void act(() => forecasts.POST("/v1/forecasts", { body: { period } }))}>{m.create}</button>
        </>
      )}
      {record && (
        <>
          <p data-testid="forecast-status">
            {m.status}: <strong>{(m as unknown as Record<string, string>)[record.status] ?? record.status}</strong> · v{record.version}
            {record.locked && <> · {m.locked}</>}
            {record.last_submitted && <> · {m.submitted} {dateTime(record.last_submitted.submitted_at, lang)}</>}
          </p>
          <div className="figures">
            <div><div className="muted">{m.forecastAmount}</div><div className="big">{money(record.forecast_amount, record.currency, lang)}</div></div>
            <div><div className="muted">{m.upside}</div><div className="big">{money(record.upside_amount, record.currency, lang)}</div></div>
          </div>
          <Figures record={record} />
          <h3>{m.missing}</h3>
          {record.missing.length === 0 ? <p className="ok">{m.allSubmitted}</p> : (
            <ul data-testid="missing">{record.missing.map((id) => <li key={id}>{names[id] ?? "…"}</li>)}</ul>
          )}
          {record.newer_child_submissions.length > 0 && (
            <p className="notice">
              {m.newerSubmissions}{" "}
              <button type="button" disabled={busy} onClick={() => void act(() => forecasts.POST("/v1/forecasts/{record_id}/refresh", {
                params: { path: { record_id }, header },
              }))}>{m.refresh}</button>
            </p>
          )}
          <h3>{m.adjust}</h3>
          <form className="row" onSubmit={adjust} noValidate>
            <Field label={m.category} error={fieldMessage(problem, "category")}>
              {(p) => (
                <select {...p} value={category} onChange={(e) => setCategory(e.target.value as typeof category)}>
                  {ADJUSTABLE.map((c) => <option key={c} value={c}>{(m as unknown as Record<string, string>)[`cat_${c}`]}</option>)}
                </select>
              )}
            </Field>
            <Field label={m.newAmount} error={fieldMessage(problem, "amount")}>
              {(p) => <input {...p} inputMode="decimal" value={amount} onChange={(e) => setAmount(e.target.value)} />}
            </Field>
            <Field label={m.reason} error={reasonMissing ? m.reasonRequired : fieldMessage(problem, "reason")}>
              {(p) => <input {...p} value={reason} onChange={(e) => setReason(e.target.value)} />}
            </Field>
            <button type="submit" disabled={busy || record.locked}>{m.adjust}</button>
          </form>
          <h3>{m.submit}</h3>
          <div className="row">
            <Field label={m.note}>
              {(p) => <input {...p} value={note} onChange={(e) => setNote(e.target.value)} />}
            </Field>
            <button type="button" className="primary" disabled={busy || record.locked}
              onClick={() => void act(() => forecasts.POST("/v1/forecasts/{record_id}/submit", {
                params: { path: { record_id }, header }, body: { note: note.trim() || null },
              }))}>{m.submit}</button>
            {user?.role !== "rep" && (
              <button type="button" disabled={busy || record.locked}
                onClick={() => void act(() => forecasts.POST("/v1/forecasts/{record_id}/publish", {
                  params: { path: { record_id }, header }, body: { note: note.trim() || null },
                }))}>{m.publish}</button>
            )}
          </div>
          {user?.role !== "rep" && (
            <>
              <h3>{m.channels}</h3>
              <ul>
                {record.channel_forecasts.map((c) => (
                  <li key={c.channel}>{c.channel}: {money(c.amount, record.currency, lang)}{c.note ? ` · ${c.note}` : ""}</li>
                ))}
              </ul>
              <form className="row" noValidate onSubmit={(e) => {
                e.preventDefault();
                void act(() => forecasts.POST("/v1/forecasts/{record_id}/channel-forecasts", {
                  params: { path: { record_id }, header }, body: { channel: channel.trim(), amount: channelAmount.trim() },
                }));
              }}>
                <Field label={m.channel} error={fieldMessage(problem, "channel")}>
                  {(p) => <input {...p} value={channel} onChange={(e) => setChannel(e.target.value)} />}
                </Field>
                <Field label={m.amount} error={fieldMessage(problem, "amount")}>
                  {(p) => <input {...p} inputMode="decimal" value={channelAmount} onChange={(e) => setChannelAmount(e.target.value)} />}
                </Field>
                <button type="submit" disabled={busy || !channel.trim() || !channelAmount.trim()}>{m.recordChannel}</button>
              </form>
            </>
          )}
        </>
      )}
    </section>
  );
}
