// Tender details; the evaluation weights' total is shown as you type and must be 100 to save.
import { useState, type FormEvent } from "react";

import schemaJson from "../../api/generated/opportunity-svc.schemas.json";
import { opportunities } from "../../lib/api";
import { Field, ProblemBanner, useCheckProblem } from "../../lib/fields";
import { fmt, useMessages } from "../../lib/i18n";
import { fieldMessage, problemOf, type Problem } from "../../lib/problem";
import { checkBody, enumOf, type SchemaSet } from "../../lib/schema";
import { messages } from "./messages";
import type { Opportunity } from "./useOpportunity";

const schemas = schemaJson as unknown as SchemaSet;
const WEIGHTS = ["price", "service", "technical", "commercial"] as const;
type WeightKey = (typeof WEIGHTS)[number];
const TEXT_FIELDS = ["sales_mode", "tender_type", "bid_plan", "relationship_degree", "delivery_date", "delivery_place",
  "background", "impact_if_lost"] as const;
type TextKey = (typeof TEXT_FIELDS)[number];

export function Tender({ opp, etag, onChanged }: { opp: Opportunity; etag: string | undefined; onChanged: () => Promise<void> }) {
  const m = useMessages(messages);
  const toProblem = useCheckProblem();
  const t = opp.tender;
  const [text, setText] = useState<Record<TextKey, string>>(
    () => Object.fromEntries(TEXT_FIELDS.map((k) => [k, (t?.[k] as string | null | undefined) ?? ""])) as Record<TextKey, string>);
  const [weights, setWeights] = useState<Record<WeightKey, string>>(
    () => Object.fromEntries(WEIGHTS.map((k) => [k, t?.evaluation_weights ? String(t.evaluation_weights[k]) : ""])) as Record<WeightKey, string>);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  const anyWeight = WEIGHTS.some((k) => weights[k].trim() !== "");
  const sum = WEIGHTS.reduce((s, k) => s + (Number(weights[k]) || 0), 0);
  const weightsOk = !anyWeight || sum === 100;

  async function save(e: FormEvent) {
    e.preventDefault();
    const body: Record<string, unknown> = {
      ...Object.fromEntries(TEXT_FIELDS.map((k) => [k, text[k].trim() || null])),
      // Lots, partners and brands are kept as they are (not edited on this form).
      single_quote_only: t?.single_quote_only ?? false, lots: t?.lots ?? [], partners: t?.partners ?? [],
      competing_brands: t?.competing_brands ?? [],
      evaluation_weights: anyWeight ? Object.fromEntries(WEIGHTS.map((k) => [k, Number(weights[k] || 0)])) : null,
    };
    const found = toProblem(checkBody(body, "TenderIn", schemas));
    setProblem(found);
    if (found || !weightsOk) return;
    setBusy(true);
    try {
      await opportunities.PUT("/v1/opportunities/{opp_id}/tender", {
        params: { path: { opp_id: opp.id }, header: { "if-match": etag } },
        body: body as never,
      });
      await onChanged();
    } catch (err) {
      setProblem(problemOf(err));
      if (problemOf(err).status === 412) await onChanged();
    } finally {
      setBusy(false);
    }
  }

  const err = (f: string) => fieldMessage(problem, f);
  const select = (k: TextKey, label: string) => (
    <Field label={label} error={err(k)}>
      {(p) => (
        <select {...p} value={text[k]} onChange={(e) => setText((x) => ({ ...x, [k]: e.target.value }))}>
          <option value="">—</option>
          {enumOf(schemas, "TenderIn", k).map((v) => <option key={v} value={v}>{v}</option>)}
        </select>
      )}
    </Field>
  );
  const input = (k: TextKey, label: string, type = "text") => (
    <Field label={label} error={err(k)}>
      {(p) => <input {...p} type={type} value={text[k]} onChange={(e) => setText((x) => ({ ...x, [k]: e.target.value }))} />}
    </Field>
  );
  return (
    <form className="card" onSubmit={save} noValidate aria-labelledby="tender-title">
      <h2 id="tender-title">{m.tender}</h2>
      <ProblemBanner problem={problem} />
      <div className="grid2">
        {select("sales_mode", m.salesMode)}
        {select("tender_type", m.tenderType)}
        {select("bid_plan", m.bidPlan)}
        {select("relationship_degree", m.relationship)}
        {input("delivery_date", m.deliveryDate, "date")}
        {input("delivery_place", m.deliveryPlace)}
        {input("background", m.background)}
        {input("impact_if_lost", m.impactIfLost)}
      </div>
      <fieldset>
        <legend>{m.weights}</legend>
        <div className="row">
          {WEIGHTS.map((k) => (
            <Field key={k} label={m[k]} error={err(`evaluation_weights.${k}`)}>
              {(p) => <input {...p} type="number" min={0} max={100} step={1} value={weights[k]}
                onChange={(e) => setWeights((w) => ({ ...w, [k]: e.target.value }))} />}
            </Field>
          ))}
        </div>
        <p aria-live="polite" data-testid="weights-sum" className={weightsOk ? "ok" : "field-error"}>
          {fmt(m.weightsSum, { n: sum })}{weightsOk ? "" : ` — ${m.weightsMustBe100}`}
        </p>
        {err("evaluation_weights") && <p className="field-error">{err("evaluation_weights")}</p>}
      </fieldset>
      <button type="submit" className="primary" disabled={busy || !weightsOk}>{m.saveTender}</button>
    </form>
  );
}
