// Tier with its explanation (GET /v1/accounts/{id}/tier-score): the score against its maximum,
// the recommended and the current tier, each criterion's points with the service's explanation,
// and the caps that held the recommendation back.
import { accounts } from "../../lib/api";
import { date } from "../../lib/format";
import { fmt, useLang, useMessages } from "../../lib/i18n";
import { Section, useLoad } from "./load";
import { messages } from "./messages";
import { useWords } from "./words";

export function TierSection({ accountId }: { accountId: string }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const words = useWords();
  const { data, problem, loading, reload } = useLoad(async () => {
    const { data } = await accounts.GET("/v1/accounts/{account_id}/tier-score", {
      params: { path: { account_id: accountId } },
    });
    return data!;
  }, accountId);
  return (
    <Section id="a360-tier" title={m.tier} loading={loading} problem={problem} onRetry={reload}>
      {data && (
        <>
          <dl className="grid2 summary">
            <div><dt>{m.recommendedTier}</dt><dd data-testid="recommended-tier">{words(data.recommended_tier)}</dd></div>
            <div><dt>{m.currentTier}</dt><dd>{data.current_tier ? words(data.current_tier) : m.noTier}</dd></div>
          </dl>
          <p>
            <label>
              {fmt(m.score, { score: data.score, max: data.max_score })}{" "}
              <meter min={0} max={data.max_score} value={data.score} />
            </label>
          </p>
          <table>
            <thead>
              <tr>
                <th scope="col">{m.criterion}</th><th scope="col" className="num">{m.points}</th>
                <th scope="col">{m.value}</th><th scope="col">{m.explanation}</th>
              </tr>
            </thead>
            <tbody>
              {data.criteria.map((c) => (
                <tr key={c.name}>
                  <th scope="row">{c.name}</th>
                  <td className="num">{c.points} / {c.max_points}</td>
                  <td>{c.value ?? "—"}</td>
                  <td>{c.explanation}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.caps.length > 0 && (
            <>
              <h3>{m.caps}</h3>
              <ul>{data.caps.map((c, i) => <li key={i}>{c}</li>)}</ul>
            </>
          )}
          <p className="muted">
            {fmt(m.revenueWindow, { from: date(data.revenue_window.from, lang), to: date(data.revenue_window.to, lang) })}
            {" · "}{data.currency}
          </p>
        </>
      )}
    </Section>
  );
}
