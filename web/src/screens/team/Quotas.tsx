// Quotas the user may see (GET /v1/quotas: their own and their team's), by period and status.
// A quota's details (GET /v1/quotas/{id}) show what it was split into, the allocated sum and the
// gap (negative: over-allocated), and the approval flow the API offers: submit, approve, reject
// with a reason, and a top-down split to the direct reports (POST .../allocate). Each change
// sends If-Match; the server's refusal (e.g. approving your own quota) is shown in words.
import { useState, type FormEvent, type ReactNode } from "react";

import schemaJson from "../../api/generated/team-svc.schemas.json";
import { team, type TeamSchemas } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { Field, ProblemBanner } from "../../lib/fields";
import { money } from "../../lib/format";
import { useLang, useMessages } from "../../lib/i18n";
import { fieldMessage, problemOf, type Problem } from "../../lib/problem";
import { enumOf, type SchemaSet } from "../../lib/schema";
import { useUserNames } from "../../lib/users";
import { MoreButton, Section, useLoad, usePaged } from "../../lib/load";
import type { Directory } from "./directory";
import { messages } from "./messages";
import { useQuotaStatus } from "./words";

type Quota = TeamSchemas["schemas"]["QuotaOut"];
const schemas = schemaJson as unknown as SchemaSet;

/** The quota owner's name: a person's, or an org unit's. */
function useOwnerName(dir: Directory | null, quotas: { owner_kind: string; owner_id: string }[]) {
  const names = useUserNames(quotas.filter((q) => q.owner_kind === "user").map((q) => q.owner_id));
  return (q: { owner_kind: string; owner_id: string }) =>
    q.owner_kind === "org_unit" ? dir?.unitById.get(q.owner_id)?.name ?? q.owner_id.slice(0, 8) : names[q.owner_id] ?? "…";
}

function Allocate({ quota, run, busy, problem }: {
  quota: Quota;
  run: (action: () => Promise<unknown>) => Promise<void>;
  busy: boolean;
  problem: Problem | null;
}) {
  const m = useMessages(messages);
  const [method, setMethod] = useState("even");
  const [uplift, setUplift] = useState("0");
  // Only the methods that need no per-child list: the API picks the children itself.
  const methods = enumOf(schemas, "AllocateIn", "method").filter((x) => x === "even" || x === "last_year_won");
  const submit = (e: FormEvent) => {
    e.preventDefault();
    void run(() => team.POST("/v1/quotas/{quota_id}/allocate", {
      params: { path: { quota_id: quota.id }, header: { "if-match": `"${quota.version}"` } },
      body: { method: method as never, uplift_percent: uplift.trim() || "0" },
    }));
  };
  return (
    <form className="row" onSubmit={submit} aria-label={m.allocate}>
      <Field label={m.method} error={fieldMessage(problem, "method")}>
        {(p) => (
          <select {...p} value={method} onChange={(e) => setMethod(e.target.value)}>
            {methods.map((x) => <option key={x} value={x}>{x === "even" ? m.methodEven : m.methodLastYear}</option>)}
          </select>
        )}
      </Field>
      <Field label={m.uplift} error={fieldMessage(problem, "uplift_percent")}>
        {(p) => <input {...p} inputMode="decimal" value={uplift} onChange={(e) => setUplift(e.target.value)} />}
      </Field>
      <button type="submit" disabled={busy}>{m.allocate}</button>
      <small className="hint">{m.allocateHint}</small>
    </form>
  );
}

function QuotaDetail({ id, dir, onChanged }: { id: string; dir: Directory | null; onChanged: () => Promise<void> }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const { user } = useAuth();
  const status = useQuotaStatus();
  const detail = useLoad(async () => (await team.GET("/v1/quotas/{quota_id}", { params: { path: { quota_id: id } } })).data!, id);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const [reason, setReason] = useState("");
  const q = detail.data;
  const ownerName = useOwnerName(dir, q?.children ?? []);

  async function run(action: () => Promise<unknown>) {
    setBusy(true);
    setProblem(null);
    try {
      await action();
      setReason("");
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
      await detail.reload(); // every outcome re-reads: a 412 brings the latest version
      await onChanged();
    }
  }

  if (!q) return <><ProblemBanner problem={detail.problem} />{detail.loading && <p role="status">…</p>}</>;
  const header = { "if-match": `"${q.version}"` };
  const path = { quota_id: q.id };
  const own = q.responsible_user_id === user?.id;
  const gap = q.gap !== null && q.gap !== undefined ? Number(q.gap) : null;
  return (
    <div className="quota-detail" data-testid={`quota-detail-${q.id}`}>
      <ProblemBanner problem={problem} onDismiss={() => setProblem(null)} />
      <h4>{m.children}</h4>
      {(q.children ?? []).length === 0 ? <p className="muted">{m.noChildren}</p> : (
        <ul>
          {(q.children ?? []).map((c) => (
            <li key={c.id}>{ownerName(c)}: {money(c.amount, q.currency, lang)} <span className="muted">({status(c.status)})</span></li>
          ))}
        </ul>
      )}
      {q.allocated_amount && (
        <p data-testid="quota-gap">
          {m.allocated}: {money(q.allocated_amount, q.currency, lang)} · {m.gap}:{" "}
          <strong className={gap !== null && gap < 0 ? "rating-bad" : gap === 0 ? "rating-good" : "rating-warn"}>
            {money(q.gap, q.currency, lang)}
          </strong>
          {gap !== null && gap < 0 && ` (${m.overAllocated})`}{gap === 0 && ` (${m.fullyAllocated})`}
        </p>
      )}
      <div className="row">
        {q.status === "draft" && (
          <button type="button" disabled={busy}
            onClick={() => void run(() => team.POST("/v1/quotas/{quota_id}/submit", { params: { path, header } }))}>{m.submit}</button>
        )}
        {q.status === "submitted" && (
          <>
            <button type="button" className="primary" disabled={busy || own} title={own ? m.ownApproveHint : undefined}
              onClick={() => void run(() => team.POST("/v1/quotas/{quota_id}/approve", { params: { path, header } }))}>{m.approve}</button>
            <Field label={m.reason} error={fieldMessage(problem, "reason")}>
              {(p) => <input {...p} value={reason} onChange={(e) => setReason(e.target.value)} />}
            </Field>
            <button type="button" disabled={busy || own}
              onClick={() => void run(() => team.POST("/v1/quotas/{quota_id}/reject", { params: { path, header }, body: { reason } }))}>
              {m.reject}
            </button>
          </>
        )}
      </div>
      {own && q.status === "submitted" && <p className="hint">{m.ownApproveHint}</p>}
      {q.status === "draft" && <Allocate quota={q} run={run} busy={busy} problem={problem} />}
    </div>
  );
}

export function QuotasSection({ dir }: { dir: Directory | null }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const status = useQuotaStatus();
  const statuses = enumOf(schemas, "QuotaOut", "status");
  const [draft, setDraft] = useState({ period: "", status: "" });
  const [filters, setFilters] = useState(draft);
  const [open, setOpen] = useState<string | null>(null);
  const list = usePaged<Quota>(async (cursor) => (await team.GET("/v1/quotas", {
    params: { query: { cursor, limit: 100, period: filters.period || undefined, status: (filters.status || undefined) as Quota["status"] | undefined } },
  })).data!, `${filters.period}|${filters.status}`);
  const ownerName = useOwnerName(dir, list.items);
  return (
    <Section id="team-quotas" title={m.quotas} loading={list.loading} problem={list.problem} onRetry={list.reload}
      empty={list.loaded && list.items.length === 0} emptyText={m.noQuotas}>
      <form className="row filters" aria-label={m.filter} onSubmit={(e) => {
        e.preventDefault();
        setFilters({ period: draft.period.trim(), status: draft.status });
      }}>
        <Field label={m.period} hint={m.periodHint} error={fieldMessage(list.problem, "period")}>
          {(p) => <input {...p} value={draft.period} onChange={(e) => setDraft({ ...draft, period: e.target.value })} />}
        </Field>
        <Field label={m.statusFilter} error={fieldMessage(list.problem, "status")}>
          {(p) => (
            <select {...p} value={draft.status} onChange={(e) => setDraft({ ...draft, status: e.target.value })}>
              <option value="">{m.any_status}</option>
              {statuses.map((s) => <option key={s} value={s}>{status(s)}</option>)}
            </select>
          )}
        </Field>
        <button type="submit">{m.filter}</button>
      </form>
      {list.items.length > 0 && (
        <table data-testid="quotas-table">
          <thead>
            <tr>
              <th scope="col">{m.owner}</th><th scope="col">{m.period}</th><th scope="col" className="num">{m.amount}</th>
              <th scope="col" className="num">{m.approvedAmount}</th><th scope="col">{m.status}</th>
              <th scope="col" className="num">{m.revision}</th><th scope="col"><span className="sr-only">{m.details}</span></th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((q) => (
              <QuotaRow key={q.id} q={q} name={ownerName(q)} statusName={status(q.status)} open={open === q.id}
                toggle={() => setOpen(open === q.id ? null : q.id)} lang={lang}>
                <QuotaDetail id={q.id} dir={dir} onChanged={list.reload} />
              </QuotaRow>
            ))}
          </tbody>
        </table>
      )}
      <MoreButton hasMore={list.hasMore} loading={list.loading} onMore={() => void list.loadMore()} label={`${m.more}: ${m.quotas}`} />
    </Section>
  );
}

function QuotaRow({ q, name, statusName, open, toggle, lang, children }: {
  q: Quota;
  name: string;
  statusName: string;
  open: boolean;
  toggle: () => void;
  lang: "zh-CN" | "en";
  children: ReactNode;
}) {
  const m = useMessages(messages);
  return (
    <>
      <tr>
        <th scope="row">{name} <span className="muted">({q.owner_kind === "org_unit" ? m.orgUnit : m.users})</span></th>
        <td>{q.period}</td>
        <td className="num">{money(q.amount, q.currency, lang)}</td>
        <td className="num">{money(q.approved_amount, q.currency, lang)}</td>
        <td>{statusName}</td>
        <td className="num">{q.revision}</td>
        <td>
          <button type="button" aria-expanded={open} aria-label={`${open ? m.hide : m.details}: ${name} ${q.period}`} onClick={toggle}>
            {open ? m.hide : m.details}
          </button>
        </td>
      </tr>
      {open && <tr><td colSpan={7}>{children}</td></tr>}
    </>
  );
}
