// Funnel health per open stage against its norm (rating colour), and attainment against quota.
import { useEffect, useState } from "react";

import { forecasts, type ForecastSchemas } from "../../lib/api";
import { useLang, useMessages } from "../../lib/i18n";
import { money } from "../../lib/format";
import { messages } from "./messages";

type FunnelHealth = ForecastSchemas["schemas"]["FunnelHealthOut"];
type Attainment = ForecastSchemas["schemas"]["AttainmentOut"];
const EVERY_N_TICKS = 5; // these move slower than the roll-up: every 5 s is enough

// The service rates each ratio excellent / good / warning (health/domain.py).
const RATING_CLASS: Record<string, string> = { excellent: "rating-good", good: "rating-ok", warning: "rating-bad" };
const ratingClass = (rating: string | null | undefined) => (rating && RATING_CLASS[rating]) || "muted";

function Rating({ value, ratio }: { value: string | null | undefined; ratio: string | null | undefined }) {
  const m = useMessages(messages) as unknown as Record<string, string>;
  return (
    <span className={`rating ${ratingClass(value)}`} data-rating={value ?? ""}>
      {ratio ? `${ratio}%` : "—"} {value ? `(${m[`rating_${value}`] ?? value})` : ""}
    </span>
  );
}

export function Health({ node, period, tick }: { node: string; period: string; tick: number }) {
  const m = useMessages(messages);
  const { lang } = useLang();
  const [health, setHealth] = useState<FunnelHealth | null>(null);
  const [attainment, setAttainment] = useState<Attainment | null>(null);
  const slot = Math.floor(tick / EVERY_N_TICKS);
  useEffect(() => {
    forecasts.GET("/v1/funnel-health", { params: { query: { node, period } } })
      .then(({ data }) => setHealth(data!)).catch(() => setHealth(null));
    forecasts.GET("/v1/attainment", { params: { query: { node, period } } })
      .then(({ data }) => setAttainment(data!)).catch(() => setAttainment(null));
  }, [node, period, slot]);

  return (
    <div className="cols">
      <section className="card" aria-labelledby="health-title">
        <h2 id="health-title">{m.funnelHealth}</h2>
        {health && !health.norm_source && <p className="muted">{m.noNorm}</p>}
        {health && (
          <table>
            <thead>
              <tr><th scope="col">{m.stage}</th><th scope="col" className="num">{m.count}</th><th scope="col" className="num">{m.amount}</th>
                <th scope="col">{m.ratio} {m.byCount}</th><th scope="col">{m.ratio} {m.byAmount}</th></tr>
            </thead>
            <tbody>
              {health.stages.map((s) => (
                <tr key={s.stage}>
                  <th scope="row">{s.stage}</th>
                  <td className="num">{s.count}{s.norm_count ? ` / ${s.norm_count}` : ""}</td>
                  <td className="num">{money(s.amount, health.currency, lang)}</td>
                  <td><Rating value={s.rating_by_count} ratio={s.ratio_by_count} /></td>
                  <td><Rating value={s.rating_by_amount} ratio={s.ratio_by_amount} /></td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {health?.overall_rating && <p>{m.rating}: <Rating value={health.overall_rating} ratio={health.overall.ratio_by_amount} /></p>}
      </section>
      <section className="card" aria-labelledby="attainment-title">
        <h2 id="attainment-title">{m.attainment}</h2>
        {attainment && (
          <table>
            <thead>
              <tr><th scope="col">{m.report}</th><th scope="col" className="num">{m.quota}</th><th scope="col" className="num">{m.won}</th>
                <th scope="col" className="num">{m.commitForecast}</th><th scope="col" className="num">{m.gap}</th>
                <th scope="col" className="num">{m.attainmentPct}</th><th scope="col" className="num">{m.forecastAttainment}</th></tr>
            </thead>
            <tbody>
              {[{ ...attainment, name: m.me }, ...attainment.children].map((a) => (
                <tr key={a.node}>
                  <th scope="row">{a.name}</th>
                  <td className="num">{money(a.quota, a.currency, lang)}</td>
                  <td className="num">{money(a.won, a.currency, lang)}</td>
                  <td className="num">{money(a.forecast_commit, a.currency, lang)}</td>
                  <td className="num">{money(a.gap, a.currency, lang)}</td>
                  <td className="num">{a.attainment_pct ? `${a.attainment_pct}%` : "—"}</td>
                  <td className="num">{a.forecast_attainment_pct ? `${a.forecast_attainment_pct}%` : "—"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </div>
  );
}
