// The pipeline board: the stage model's eight stages as columns, totals per column from the
// pipeline summary (same filters), cards paged by cursor. A drop on another column is a stage
// change sent with If-Match (the card's version from the read); a 412 reloads the card.
import { useCallback, useEffect, useState, type DragEvent, type FormEvent } from "react";
import { Link } from "react-router-dom";

import { accounts, opportunities, team, type OpportunitySchemas } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { Field, ProblemBanner } from "../../lib/fields";
import { fmt, useLang, useMessages } from "../../lib/i18n";
import { date, money } from "../../lib/format";
import { problemOf, type Problem } from "../../lib/problem";
import { messages } from "./messages";

type Opportunity = OpportunitySchemas["schemas"]["OpportunityOut"];
type Stage = OpportunitySchemas["schemas"]["StageOut"];
type Summary = OpportunitySchemas["schemas"]["PipelineSummary"];
type Amounts = OpportunitySchemas["schemas"]["CurrencyAmount"][];

interface Filters {
  owner_subtree: string;
  account_id: string;
  close_date_from: string;
  close_date_to: string;
  high_value: boolean;
  confirmed: boolean;
}

const NO_FILTERS: Filters = {
  owner_subtree: "", account_id: "", close_date_from: "", close_date_to: "", high_value: false, confirmed: false,
};
const PAGE = 50;
const WON_STAGE = 8;

function toQuery(f: Filters) {
  return {
    owner_subtree: f.owner_subtree || undefined,
    account_id: f.account_id || undefined,
    close_date_from: f.close_date_from || undefined,
    close_date_to: f.close_date_to || undefined,
    high_value: f.high_value || undefined,
    confirmed: f.confirmed || undefined,
  };
}

export const ifMatch = (version: number) => `"${version}"`;

interface Option {
  id: string;
  name: string;
}

function useFilterOptions() {
  const { user } = useAuth();
  const [owners, setOwners] = useState<Option[]>([]);
  const [accountOptions, setAccountOptions] = useState<Option[]>([]);
  useEffect(() => {
    if (!user) return;
    team.GET("/v1/users/{user_id}/subtree", { params: { path: { user_id: user.id } } })
      .then(({ data }) => setOwners(data!.users.map((u) => ({ id: u.id, name: u.name }))))
      .catch(() => setOwners([{ id: user.id, name: user.name }]));
    accounts.GET("/v1/accounts", { params: { query: { limit: 500 } } })
      .then(({ data }) => setAccountOptions(data!.items.map((a) => ({ id: a.id, name: a.name }))))
      .catch(() => setAccountOptions([]));
  }, [user]);
  return { owners, accountOptions };
}

function FilterBar({ value, onApply }: { value: Filters; onApply: (f: Filters) => void }) {
  const m = useMessages(messages);
  const [draft, setDraft] = useState(value);
  const { owners, accountOptions } = useFilterOptions();
  const set = <K extends keyof Filters>(k: K, v: Filters[K]) => setDraft((d) => ({ ...d, [k]: v }));
  function submit(e: FormEvent) {
    e.preventDefault();
    onApply(draft);
  }
  return (
    <form className="filters card row" onSubmit={submit} aria-label={m.filters}>
      <Field label={m.owner}>
        {(p) => (
          <select {...p} value={draft.owner_subtree} onChange={(e) => set("owner_subtree", e.target.value)}>
            <option value="">{m.anyOwner}</option>
            {owners.map((o) => <option key={o.id} value={o.id}>{o.name}</option>)}
          </select>
        )}
      </Field>
      <Field label={m.account}>
        {(p) => (
          <select {...p} value={draft.account_id} onChange={(e) => set("account_id", e.target.value)}>
            <option value="">{m.anyAccount}</option>
            {accountOptions.map((o) => <option key={o.id} value={o.id}>{o.name}</option>)}
          </select>
        )}
      </Field>
      <Field label={m.closeFrom}>
        {(p) => <input {...p} type="date" value={draft.close_date_from} onChange={(e) => set("close_date_from", e.target.value)} />}
      </Field>
      <Field label={m.closeTo}>
        {(p) => <input {...p} type="date" value={draft.close_date_to} onChange={(e) => set("close_date_to", e.target.value)} />}
      </Field>
      <label className="check">
        <input type="checkbox" checked={draft.high_value} onChange={(e) => set("high_value", e.target.checked)} /> {m.highValue}
      </label>
      <label className="check">
        <input type="checkbox" checked={draft.confirmed} onChange={(e) => set("confirmed", e.target.checked)} /> {m.confirmed}
      </label>
      <button type="submit" className="primary">{m.apply}</button>
      <button type="button" onClick={() => { setDraft(NO_FILTERS); onApply(NO_FILTERS); }}>{m.reset}</button>
    </form>
  );
}

type CloseReason = OpportunitySchemas["schemas"]["CloseReasonOut"];

function useCloseReasons(): CloseReason[] {
  const [reasons, setReasons] = useState<CloseReason[]>([]);
  useEffect(() => {
    opportunities.GET("/v1/close-reasons").then(({ data }) => setReasons(data!)).catch(() => setReasons([]));
  }, []);
  return reasons;
}

function CloseDialog({ opp, initialOutcome, onDone, onCancel }: {
  opp: Opportunity;
  initialOutcome: "won" | "lost";
  onDone: (updated: Opportunity) => void;
  onCancel: () => void;
}) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const reasons = useCloseReasons();
  const [outcome, setOutcome] = useState(initialOutcome);
  const [reason, setReason] = useState("");
  const [competitor, setCompetitor] = useState("");
  const [note, setNote] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [checked, setChecked] = useState(false);
  const [busy, setBusy] = useState(false);
  const choices = reasons.filter((r) => r.outcome === outcome && r.active);
  const chosen = choices.find((r) => r.code === reason);
  const needsCompetitor = outcome === "lost" && !!chosen?.needs_competitor;
  const missingReason = !chosen;
  const missingCompetitor = needsCompetitor && !competitor.trim();

  async function submit(e: FormEvent) {
    e.preventDefault();
    setChecked(true); // the reason (and, for most lost reasons, the competitor) is required: say so before sending
    if (missingReason || missingCompetitor) return;
    setBusy(true);
    try {
      const { data } = await opportunities.POST("/v1/opportunities/{opp_id}/close", {
        params: { path: { opp_id: opp.id }, header: { "if-match": ifMatch(opp.version) } },
        body: {
          outcome, reason, competitor: outcome === "lost" && competitor.trim() ? competitor.trim() : null,
          note: note.trim() || null,
        },
      });
      onDone(data!);
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
    }
  }
  const serverField = (f: string) => problem?.errors.find((x) => x.field === f)?.message;
  return (
    <div className="modal-backdrop">
      <section className="card modal" role="dialog" aria-modal="true" aria-labelledby="close-title">
        <h2 id="close-title">{fmt(m.closeTitle, { name: opp.name })}</h2>
        <ProblemBanner problem={problem} />
        <form onSubmit={submit} noValidate>
          <fieldset>
            <legend>{m.outcome}</legend>
            <label><input type="radio" name="outcome" checked={outcome === "won"} onChange={() => { setOutcome("won"); setReason(""); }} /> {m.won}</label>{" "}
            <label><input type="radio" name="outcome" checked={outcome === "lost"} onChange={() => { setOutcome("lost"); setReason(""); }} /> {m.lost}</label>
          </fieldset>
          <Field label={m.reason} error={checked && missingReason ? m.reasonRequired : serverField("reason")}>
            {(p) => (
              <select {...p} value={reason} onChange={(e) => setReason(e.target.value)}>
                <option value="">—</option>
                {choices.map((r) => <option key={r.code} value={r.code}>{r.labels[lang]}</option>)}
              </select>
            )}
          </Field>
          <Field label={m.competitor} hint={m.competitorHint}
            error={checked && missingCompetitor ? m.competitorRequired : serverField("competitor")}>
            {(p) => <input {...p} disabled={outcome !== "lost"} maxLength={200} value={competitor} onChange={(e) => setCompetitor(e.target.value)} />}
          </Field>
          <Field label={m.note} error={serverField("note")}>
            {(p) => <textarea {...p} maxLength={2000} value={note} onChange={(e) => setNote(e.target.value)} />}
          </Field>
          <div className="row">
            <button type="submit" className="primary" disabled={busy}>{m.submitClose}</button>
            <button type="button" onClick={onCancel}>{m.cancel}</button>
          </div>
        </form>
      </section>
    </div>
  );
}

function Card({ opp, stages, conflict, onMove, onClose }: {
  opp: Opportunity;
  stages: Stage[];
  conflict: boolean;
  onMove: (opp: Opportunity, stage: number) => void;
  onClose: (opp: Opportunity) => void;
}) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const open = opp.status === "open";
  function dragStart(e: DragEvent) {
    e.dataTransfer.setData("text/plain", opp.id);
    e.dataTransfer.effectAllowed = "move";
  }
  return (
    <article className={`opp-card${conflict ? " conflict" : ""}`} draggable={open} onDragStart={dragStart}
      data-testid="opp-card" data-opp-id={opp.id} aria-label={opp.name}>
      <Link to={`/opportunities/${opp.id}`}>{opp.name}</Link>
      <div className="amount">{money(opp.amount, opp.currency, lang)}</div>
      <div className="meta">{date(opp.close_date, lang)} · {opp.probability}%</div>
      <div>
        {opp.confirmed && <span className="badge confirmed">{m.confirmedBadge}</span>}{" "}
        {opp.high_value && <span className="badge hv">{m.highValueBadge}</span>}
      </div>
      {open && (
        <div className="actions">
          <label>
            <span className="sr-only">{m.moveTo}</span>
            <select aria-label={`${m.moveTo}: ${opp.name}`} value={opp.stage}
              onChange={(e) => onMove(opp, Number(e.target.value))}>
              {stages.map((s) => <option key={s.number} value={s.number}>{s.number}. {s.name}</option>)}
            </select>
          </label>
          <button type="button" onClick={() => onClose(opp)} aria-label={`${m.close}: ${opp.name}`}>{m.close}</button>
        </div>
      )}
    </article>
  );
}

function amountsText(amounts: Amounts | undefined, lang: "zh-CN" | "en"): string {
  if (!amounts || amounts.length === 0) return money(0, "CNY", lang);
  return amounts.map((a) => money(a.amount, a.currency, lang)).join(" + ");
}

function columnSummary(summary: Summary | null, stage: number) {
  return summary?.stages.find((s) => s.stage === stage && s.status === (stage === WON_STAGE ? "won" : "open"));
}

interface Board {
  items: Opportunity[];
  openCursor: string | null;
  wonCursor: string | null;
}

function useBoard(filters: Filters) {
  const [board, setBoard] = useState<Board>({ items: [], openCursor: null, wonCursor: null });
  const [summary, setSummary] = useState<Summary | null>(null);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [loading, setLoading] = useState(true);

  const loadSummary = useCallback(async () => {
    const { data } = await opportunities.GET("/v1/pipeline/summary", { params: { query: toQuery(filters) } });
    setSummary(data!);
  }, [filters]);

  const page = useCallback(async (status: "open" | "won", cursor?: string) => {
    const { data } = await opportunities.GET("/v1/opportunities", {
      params: { query: { ...toQuery(filters), status, limit: PAGE, cursor } },
    });
    return data!;
  }, [filters]);

  const reload = useCallback(async () => {
    setLoading(true);
    setProblem(null);
    try {
      const [open, won] = await Promise.all([page("open"), page("won"), loadSummary()]);
      setBoard({ items: [...open.items, ...won.items], openCursor: open.next_cursor ?? null, wonCursor: won.next_cursor ?? null });
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setLoading(false);
    }
  }, [page, loadSummary]);

  const loadMore = useCallback(async () => {
    try {
      const [open, won] = await Promise.all([
        board.openCursor ? page("open", board.openCursor) : null,
        board.wonCursor ? page("won", board.wonCursor) : null,
      ]);
      setBoard((b) => ({
        items: [...b.items, ...(open?.items ?? []), ...(won?.items ?? [])],
        openCursor: open ? open.next_cursor ?? null : null,
        wonCursor: won ? won.next_cursor ?? null : null,
      }));
    } catch (err) {
      setProblem(problemOf(err));
    }
  }, [board.openCursor, board.wonCursor, page]);

  const replace = useCallback((opp: Opportunity) => {
    setBoard((b) => ({ ...b, items: b.items.map((o) => (o.id === opp.id ? opp : o)) }));
  }, []);

  useEffect(() => {
    void reload();
  }, [reload]);

  return { board, summary, problem, setProblem, loading, reload, loadMore, replace, loadSummary };
}

export default function Pipeline() {
  const m = useMessages(messages);
  const { lang } = useLang();
  const [filters, setFilters] = useState<Filters>(NO_FILTERS);
  const [stages, setStages] = useState<Stage[]>([]);
  const [closing, setClosing] = useState<{ opp: Opportunity; outcome: "won" | "lost" } | null>(null);
  const [conflictId, setConflictId] = useState<string | null>(null);
  const [notice, setNotice] = useState("");
  const [dropTarget, setDropTarget] = useState<number | null>(null);
  const { board, summary, problem, setProblem, loading, loadMore, replace, loadSummary } = useBoard(filters);

  useEffect(() => {
    opportunities.GET("/v1/stage-model").then(({ data }) => setStages(data!)).catch((e) => setProblem(problemOf(e)));
  }, [setProblem]);

  async function reloadCard(id: string) {
    try {
      const { data } = await opportunities.GET("/v1/opportunities/{opp_id}", { params: { path: { opp_id: id } } });
      replace(data!);
    } catch (err) {
      setProblem(problemOf(err));
    }
  }

  async function move(opp: Opportunity, stage: number) {
    if (stage === opp.stage || opp.status !== "open") return;
    if (stage === WON_STAGE) {
      setClosing({ opp, outcome: "won" });
      return;
    }
    setConflictId(null);
    setNotice("");
    try {
      const { data } = await opportunities.POST("/v1/opportunities/{opp_id}/stage", {
        params: { path: { opp_id: opp.id }, header: { "if-match": ifMatch(opp.version) } },
        body: { stage },
      });
      replace(data!);
      setNotice(fmt(m.moved, { name: opp.name, stage }));
      await loadSummary();
    } catch (err) {
      const p = problemOf(err);
      if (p.status === 412) {
        setConflictId(opp.id);
        setNotice(fmt(m.conflict, { name: opp.name }));
        await Promise.all([reloadCard(opp.id), loadSummary()]); // the column totals moved too
      } else {
        setProblem(p);
      }
    }
  }

  function drop(e: DragEvent, stage: number) {
    e.preventDefault();
    setDropTarget(null);
    const opp = board.items.find((o) => o.id === e.dataTransfer.getData("text/plain"));
    if (opp) void move(opp, stage);
  }

  const lostSummary = summary?.stages.find((s) => s.status === "lost");
  return (
    <section aria-labelledby="pipeline-title">
      <h1 id="pipeline-title">{m.title}</h1>
      <FilterBar value={filters} onApply={setFilters} />
      <p className="hint">{m.dragHint}</p>
      <ProblemBanner problem={problem} onDismiss={() => setProblem(null)} />
      <p role="status" aria-live="polite" className={conflictId ? "problem" : "ok"} data-testid="board-notice"
        hidden={!notice}>{notice}</p>
      <div className="board" aria-label={m.board} aria-busy={loading}>
        {stages.map((s) => {
          const col = columnSummary(summary, s.number);
          const cards = board.items.filter((o) => o.stage === s.number && o.status === (s.number === WON_STAGE ? "won" : "open"));
          return (
            <section key={s.number} className={`column${dropTarget === s.number ? " drop-target" : ""}`}
              aria-labelledby={`col-${s.number}`} data-testid={`stage-${s.number}`}
              onDragOver={(e) => { e.preventDefault(); setDropTarget(s.number); }}
              onDragLeave={() => setDropTarget((t) => (t === s.number ? null : t))}
              onDrop={(e) => drop(e, s.number)}>
              <h2 id={`col-${s.number}`}>{s.number}. {s.name} <span className="muted">({s.probability}%)</span></h2>
              <div className="totals" data-testid={`stage-${s.number}-totals`}>
                {fmt(m.count, { n: col?.count ?? 0 })} · {amountsText(col?.amounts, lang)}
              </div>
              {cards.map((o) => (
                <Card key={o.id} opp={o} stages={stages}
                  conflict={conflictId === o.id} onMove={move} onClose={(x) => setClosing({ opp: x, outcome: "lost" })} />
              ))}
            </section>
          );
        })}
      </div>
      {lostSummary && <p className="muted">{fmt(m.lostCount, { n: lostSummary.count })}</p>}
      {(board.openCursor || board.wonCursor) && (
        <button type="button" onClick={() => void loadMore()}>{m.loadMore}</button>
      )}
      {closing && (
        <CloseDialog opp={closing.opp} initialOutcome={closing.outcome} onCancel={() => setClosing(null)}
          onDone={(updated) => { replace(updated); setClosing(null); void loadSummary(); }} />
      )}
    </section>
  );
}
