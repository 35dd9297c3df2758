// Fields and product lines, edited in place. Checked against the OpportunityPatch schema before
// sending; the server's errors[] land next to the same fields; a failed save keeps the draft.
import { useState, type FormEvent } from "react";

import schemaJson from "../../api/generated/opportunity-svc.schemas.json";
import { opportunities } from "../../lib/api";
import { Field, ProblemBanner, useCheckProblem } from "../../lib/fields";
import { useLang, useMessages } from "../../lib/i18n";
import { money } from "../../lib/format";
import { fieldMessage, problemOf, type Problem } from "../../lib/problem";
import { checkBody, enumOf, type SchemaSet } from "../../lib/schema";
import { messages } from "./messages";
import type { Opportunity } from "./useOpportunity";

const schemas = schemaJson as unknown as SchemaSet;

interface LineDraft {
  product_code: string; // a code of the product catalogue (GET /v1/products)
  quantity: string;
  expected_price: string;
  quoted_price: string;
}

interface Draft {
  name: string;
  amount: string;
  currency: string;
  close_date: string;
  forecast_category: string;
  amount_from_lines: boolean;
  lines: LineDraft[];
}

function draftOf(o: Opportunity): Draft {
  return {
    name: o.name, amount: o.amount, currency: o.currency, close_date: o.close_date,
    forecast_category: o.forecast_category ?? "", amount_from_lines: !!o.amount_from_lines,
    lines: (o.lines ?? []).map((l) => ({
      product_code: l.product_code ?? "", quantity: String(l.quantity), expected_price: l.expected_price ?? "", quoted_price: l.quoted_price ?? "",
    })),
  };
}

function linesBody(lines: LineDraft[]) {
  return lines.map((l) => ({
    product_code: l.product_code.trim(),
    quantity: l.quantity.trim() === "" ? (undefined as unknown as number) : Number(l.quantity),
    expected_price: l.expected_price.trim() || null,
    quoted_price: l.quoted_price.trim() || null,
  }));
}

/** Only what changed, as the PATCH asks. */
function patchOf(draft: Draft, o: Opportunity) {
  const before = draftOf(o);
  const body: Record<string, unknown> = {};
  if (draft.name !== before.name) body.name = draft.name.trim();
  if (draft.amount !== before.amount && !draft.amount_from_lines) body.amount = draft.amount.trim();
  if (draft.currency !== before.currency) body.currency = draft.currency.trim().toUpperCase();
  if (draft.close_date !== before.close_date) body.close_date = draft.close_date;
  if (draft.forecast_category !== before.forecast_category) body.forecast_category = draft.forecast_category || null;
  if (draft.amount_from_lines !== before.amount_from_lines) body.amount_from_lines = draft.amount_from_lines;
  if (JSON.stringify(draft.lines) !== JSON.stringify(before.lines)) body.lines = linesBody(draft.lines);
  return body;
}

function LineRow({ line, index, problem, onChange, onRemove }: {
  line: LineDraft;
  index: number;
  problem: Problem | null;
  onChange: (l: LineDraft) => void;
  onRemove: () => void;
}) {
  const m = useMessages(messages);
  const err = (f: string) => fieldMessage(problem, `lines.${index}.${f}`);
  const input = (f: keyof LineDraft, label: string, type = "text") => (
    <Field label={`${label} #${index + 1}`} error={err(f)}>
      {(p) => <input {...p} type={type} inputMode={type === "text" ? undefined : "decimal"} value={line[f]}
        onChange={(e) => onChange({ ...line, [f]: e.target.value })} />}
    </Field>
  );
  return (
    <div className="row line">
      {input("product_code", m.product)}
      {input("quantity", m.quantity, "number")}
      {input("expected_price", m.expectedPrice)}
      {input("quoted_price", m.quotedPrice)}
      <button type="button" onClick={onRemove} aria-label={`${m.removeLine} #${index + 1}`}>{m.removeLine}</button>
    </div>
  );
}

export function EditForm({ opp, etag, onSaved, onStale }: {
  opp: Opportunity;
  etag: string | undefined;
  onSaved: (o: Opportunity, r: Response) => void;
  onStale: () => Promise<void>;
}) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const toProblem = useCheckProblem();
  const [draft, setDraft] = useState<Draft>(() => draftOf(opp));
  const [problem, setProblem] = useState<Problem | null>(null);
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof Draft>(k: K, v: Draft[K]) => setDraft((d) => ({ ...d, [k]: v }));
  const categories = enumOf(schemas, "OpportunityPatch", "forecast_category");

  async function save(e: FormEvent) {
    e.preventDefault();
    setNotice("");
    const body = patchOf(draft, opp);
    const found = toProblem(checkBody(body, "OpportunityPatch", schemas));
    setProblem(found);
    if (found || Object.keys(body).length === 0) return;
    setBusy(true);
    try {
      const { data, response } = await opportunities.PATCH("/v1/opportunities/{opp_id}", {
        params: { path: { opp_id: opp.id }, header: { "if-match": etag } },
        body: body as never,
      });
      onSaved(data!, response);
      setDraft(draftOf(data!));
      setNotice(m.saved);
    } catch (err) {
      const p = problemOf(err);
      setProblem(p); // the draft stays as typed
      if (p.status === 412) {
        setNotice(m.stale);
        await onStale();
      }
    } finally {
      setBusy(false);
    }
  }

  const err = (f: string) => fieldMessage(problem, f);
  return (
    <form className="card" onSubmit={save} noValidate aria-labelledby="edit-title">
      <h2 id="edit-title">{m.edit}</h2>
      <ProblemBanner problem={problem} onDismiss={() => setProblem(null)} />
      <p role="status" className="ok" hidden={!notice}>{notice}</p>
      <div className="grid2">
        <Field label={m.name} error={err("name")}>
          {(p) => <input {...p} value={draft.name} onChange={(e) => set("name", e.target.value)} />}
        </Field>
        <Field label={m.amount} error={err("amount")}>
          {(p) => <input {...p} inputMode="decimal" disabled={draft.amount_from_lines} value={draft.amount}
            onChange={(e) => set("amount", e.target.value)} />}
        </Field>
        <Field label={m.currency} error={err("currency")}>
          {(p) => <input {...p} maxLength={3} value={draft.currency} onChange={(e) => set("currency", e.target.value)} />}
        </Field>
        <Field label={m.closeDate} error={err("close_date")}>
          {(p) => <input {...p} type="date" value={draft.close_date} onChange={(e) => set("close_date", e.target.value)} />}
        </Field>
        <Field label={m.category} error={err("forecast_category")}>
          {(p) => (
            <select {...p} value={draft.forecast_category} onChange={(e) => set("forecast_category", e.target.value)}>
              <option value="">{m.categoryAuto}</option>
              {categories.map((c) => <option key={c} value={c}>{c}</option>)}
            </select>
          )}
        </Field>
      </div>
      <h3>{m.lines}</h3>
      {err("lines") && <p className="field-error" role="alert">{err("lines")}</p>}
      {draft.lines.map((l, i) => (
        <LineRow key={i} line={l} index={i} problem={problem}
          onChange={(next) => set("lines", draft.lines.map((x, j) => (j === i ? next : x)))}
          onRemove={() => set("lines", draft.lines.filter((_, j) => j !== i))} />
      ))}
      {(opp.lines ?? []).length > 0 && (
        <p className="muted">{(opp.lines ?? []).map((l) => `${l.product_code ?? ""} ${l.product}: ${money(l.amount, opp.currency, lang)}`).join(" · ")}</p>
      )}
      <div className="row">
        <button type="button" onClick={() => set("lines", [...draft.lines, { product_code: "", quantity: "1", expected_price: "", quoted_price: "" }])}>
          {m.addLine}
        </button>
        <label className="check">
          <input type="checkbox" checked={draft.amount_from_lines} onChange={(e) => set("amount_from_lines", e.target.checked)} />
          {m.amountFromLines}
        </label>
        <button type="submit" className="primary" disabled={busy}>{m.save}</button>
      </div>
    </form>
  );
}
