// Competitors at the account (GET /v1/accounts/{id}/competitors, cursor-paged).
import { accounts, type AccountSchemas } from "../../lib/api";
import { useMessages } from "../../lib/i18n";
import { MoreButton, Section, usePaged } from "./load";
import { messages } from "./messages";
import { useWords } from "./words";

type Competitor = AccountSchemas["schemas"]["CompetitorOut"];

export function CompetitorsSection({ accountId }: { accountId: string }) {
  const m = useMessages(messages);
  const words = useWords();
  const list = usePaged<Competitor>(async (cursor) => {
    const { data } = await accounts.GET("/v1/accounts/{account_id}/competitors", {
      params: { path: { account_id: accountId }, query: { cursor, limit: 50 } },
    });
    return data!;
  }, accountId);
  return (
    <Section id="a360-competitors" title={m.competitors} loading={list.loading} problem={list.problem}
      onRetry={list.reload} empty={list.loaded && list.items.length === 0} emptyText={m.noCompetitors}>
      {list.items.length > 0 && (
        <table>
          <thead>
            <tr>
              <th scope="col">{m.competitor}</th><th scope="col">{m.productsInUse}</th><th scope="col">{m.satisfaction}</th>
              <th scope="col">{m.strengths}</th><th scope="col">{m.weaknesses}</th><th scope="col">{m.bottomLine}</th>
              <th scope="col">{m.salesRep}</th>
            </tr>
          </thead>
          <tbody>
            {list.items.map((c) => (
              <tr key={c.id}>
                <th scope="row">{c.competitor}</th>
                <td>{c.products_in_use ?? "—"}</td>
                <td>{words(c.customer_satisfaction)}</td>
                <td>{c.strengths ?? "—"}</td>
                <td>{c.weaknesses ?? "—"}</td>
                <td>{c.bottom_line ?? "—"}</td>
                <td>{c.sales_rep ?? "—"}{c.rep_relationship && <span className="muted"> · {m.repRelationship}: {words(c.rep_relationship)}</span>}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <MoreButton hasMore={list.hasMore} loading={list.loading} onMore={() => void list.loadMore()} label={`${m.more}: ${m.competitors}`} />
    </Section>
  );
}
