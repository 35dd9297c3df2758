// Account plans (GET /v1/accounts/{id}/plans) with the relationship stage as a three-step track
// (building → stable → strengthening: the order of the PlanCreate schema's enum), and what each
// plan holds: objectives, actions (how many still open), sponsor meetings.
import schemaJson from "../../api/generated/account-svc.schemas.json";
import { accounts, type AccountSchemas } from "../../lib/api";
import { fmt, useMessages } from "../../lib/i18n";
import { enumOf, type SchemaSet } from "../../lib/schema";
import { MoreButton, Section, usePaged } from "./load";
import { messages } from "./messages";
import { useWords } from "./words";

type Plan = AccountSchemas["schemas"]["PlanOut"];
const schemas = schemaJson as unknown as SchemaSet;

function StageTrack({ stage }: { stage: string }) {
  const m = useMessages(messages);
  const words = useWords();
  const stages = enumOf(schemas, "PlanCreate", "relationship_stage");
  const at = stages.indexOf(stage);
  return (
    <ol className="stage-track" aria-label={m.relationshipStage}>
      {stages.map((s, i) => (
        <li key={s} className={i < at ? "done" : i === at ? "current" : ""} aria-current={i === at ? "step" : undefined}>
          {words(s)}
          {i === at && <span className="sr-only"> ({fmt(m.stageOf, { n: i + 1, total: stages.length })})</span>}
        </li>
      ))}
      {at < 0 && <li className="current" aria-current="step">{stage}</li>}
    </ol>
  );
}

export function PlansSection({ accountId }: { accountId: string }) {
  const m = useMessages(messages);
  const words = useWords();
  const list = usePaged<Plan>(async (cursor) => {
    const { data } = await accounts.GET("/v1/accounts/{account_id}/plans", {
      params: { path: { account_id: accountId }, query: { cursor, limit: 50 } },
    });
    return data!;
  }, accountId);
  return (
    <Section id="a360-plans" title={m.plans} loading={list.loading} problem={list.problem} onRetry={list.reload}
      empty={list.loaded && list.items.length === 0} emptyText={m.noPlans}>
      {list.items.map((p) => {
        const open = p.actions.filter((a) => (a as { status?: string }).status === "open").length;
        return (
          <article key={p.id} className="plan" aria-label={`${m.plan}: ${p.title}`}>
            <h3>{p.title}</h3>
            <p>
              {m.period}: {p.period} · {m.status}: {words(p.status)}
            </p>
            <div><span className="muted">{m.relationshipStage}:</span> <StageTrack stage={p.relationship_stage} /></div>
            {p.value_proposition && <p><span className="muted">{m.valueProposition}:</span> {p.value_proposition}</p>}
            <p className="muted">
              {fmt(m.objectives, { n: p.objectives.length })} · {fmt(m.actions, { n: p.actions.length, open })}
              {" · "}{fmt(m.sponsorMeetings, { n: p.sponsor_meetings.length })}
            </p>
          </article>
        );
      })}
      <MoreButton hasMore={list.hasMore} loading={list.loading} onMore={() => void list.loadMore()} label={`${m.more}: ${m.plans}`} />
    </Section>
  );
}
