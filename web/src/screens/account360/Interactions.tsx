// Interactions, newest first (GET /v1/accounts/{id}/interactions) and complaints
// (GET /v1/accounts/{id}/complaints): two sections, each with its own load and paging.
import { accounts, type AccountSchemas } from "../../lib/api";
import { fmt, useLang, useMessages } from "../../lib/i18n";
import { date, dateTime } from "../../lib/format";
import { useUserNames } from "../../lib/users";
import { MoreButton, Section, usePaged } from "./load";
import { messages } from "./messages";
import { useWords } from "./words";

type Interaction = AccountSchemas["schemas"]["InteractionOut"];
type Complaint = AccountSchemas["schemas"]["ComplaintOut"];

export function InteractionsSection({ accountId }: { accountId: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const words = useWords();
  const list = usePaged<Interaction>(async (cursor) => {
    const { data } = await accounts.GET("/v1/accounts/{account_id}/interactions", {
      params: { path: { account_id: accountId }, query: { cursor, limit: 20 } },
    });
    return data!;
  }, accountId);
  const names = useUserNames(list.items.map((i) => i.logged_by));
  return (
    <Section id="a360-interactions" title={m.interactions} loading={list.loading} problem={list.problem}
      onRetry={list.reload} empty={list.loaded && list.items.length === 0} emptyText={m.noInteractions}>
      {list.items.length > 0 && (
        <ol className="timeline">
          {list.items.map((i) => (
            <li key={i.id}>
              <strong>{words(i.kind)}</strong> · {dateTime(i.occurred_at, lang)} · {i.subject}
              {i.logged_by && <span className="muted"> · {names[i.logged_by] ?? "…"}</span>}
              {i.notes && <div className="muted">{i.notes}</div>}
              {i.next_step && <div>{m.nextStep}: {i.next_step}{i.next_step_due ? ` (${date(i.next_step_due, lang)})` : ""}</div>}
            </li>
          ))}
        </ol>
      )}
      <MoreButton hasMore={list.hasMore} loading={list.loading} onMore={() => void list.loadMore()} label={`${m.more}: ${m.interactions}`} />
    </Section>
  );
}

export function ComplaintsSection({ accountId }: { accountId: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const words = useWords();
  const list = usePaged<Complaint>(async (cursor) => {
    const { data } = await accounts.GET("/v1/accounts/{account_id}/complaints", {
      params: { path: { account_id: accountId }, query: { cursor, limit: 20 } },
    });
    return data!;
  }, accountId);
  return (
    <Section id="a360-complaints" title={m.complaints} loading={list.loading} problem={list.problem}
      onRetry={list.reload} empty={list.loaded && list.items.length === 0} emptyText={m.noComplaints}>
      {list.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{m.subject}</th><th scope="col">{m.severity}</th><th scope="col">{m.status}</th>
              <th scope="col">{m.raisedAt}</th><th scope="col">{m.resolution}</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((c) => (
              <tr key={c.id}>
                <th scope="row">{c.subject}{c.description && <div className="muted">{c.description}</div>}</th>
                <td><span className={`severity severity-${c.severity}`}>{words(c.severity)}</span></td>
                <td>{words(c.status)}</td>
                <td>{dateTime(c.raised_at, lang)}</td>
                <td>
                  {c.resolution ?? "—"}
                  {c.resolved_at && <div className="muted">{m.resolvedAt}: {dateTime(c.resolved_at, lang)}
                    {c.resolution_minutes !== null && ` · ${fmt(m.resolutionMinutes, { n: c.resolution_minutes })}`}</div>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <MoreButton hasMore={list.hasMore} loading={list.loading} onMore={() => void list.loadMore()} label={`${m.more}: ${m.complaints}`} />
    </Section>
  );
}
