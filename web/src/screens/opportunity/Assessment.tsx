// The 20-question value assessment in its four dimensions; the score is counted as you tick
// (one point per yes, as the service scores it) and "high value" shows above 10.
import { useEffect, useState } from "react";

import { opportunities } from "../../lib/api";
import { ProblemBanner } from "../../lib/fields";
import { fmt, useMessages } from "../../lib/i18n";
import { problemOf, type Problem } from "../../lib/problem";
import { messages } from "./messages";
import type { OppSchemas, Opportunity } from "./useOpportunity";

const HIGH_VALUE_ABOVE = 10;

export function Assessment({ opp, etag, onChanged }: {
  opp: Opportunity;
  etag: string | undefined;
  onChanged: () => Promise<void>;
}) {
  const m = useMessages(messages);
  const [dimensions, setDimensions] = useState<OppSchemas["DimensionOut"][]>([]);
  const [answers, setAnswers] = useState<Record<string, boolean>>({});
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    opportunities.GET("/v1/opportunities/assessment-questions")
      .then(({ data }) => {
        setDimensions(data!);
        // Start from "no" everywhere; the latest assessment (if any) fills in below.
        setAnswers((a) => ({ ...Object.fromEntries(data!.flatMap((d) => d.questions.map((q) => [q.key, false]))), ...a }));
      })
      .catch((e) => setProblem(problemOf(e)));
    opportunities.GET("/v1/opportunities/{opp_id}/assessment", { params: { path: { opp_id: opp.id } } })
      .then(({ data }) => setAnswers((a) => ({ ...a, ...(data!.answers as Record<string, boolean>) })))
      .catch(() => {}); // 404: not assessed yet
  }, [opp.id]);

  const total = Object.values(answers).filter(Boolean).length;
  const high = total > HIGH_VALUE_ABOVE;

  async function save() {
    setBusy(true);
    setProblem(null);
    try {
      await opportunities.PUT("/v1/opportunities/{opp_id}/assessment", {
        params: { path: { opp_id: opp.id }, header: { "if-match": etag } },
        body: { answers },
      });
      await onChanged();
    } catch (err) {
      setProblem(problemOf(err));
      if (problemOf(err).status === 412) await onChanged();
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card" aria-labelledby="assessment-title">
      <h2 id="assessment-title">{m.assessment}</h2>
      <ProblemBanner problem={problem} />
      <p aria-live="polite" data-testid="assessment-score">
        <strong>{m.score}: {total} / 20</strong> —{" "}
        <span className={high ? "badge hv" : "badge"}>{high ? m.highValue : m.notHighValue}</span>
        {opp.assessment_total === null || opp.assessment_total === undefined ? <span className="muted"> · {m.unanswered}</span> : null}
      </p>
      <div className="grid2">
        {dimensions.map((d) => {
          const score = d.questions.filter((q) => answers[q.key]).length;
          return (
            <fieldset key={d.key}>
              <legend>{d.title} ({fmt("{s}/{n}", { s: score, n: d.questions.length })})</legend>
              {d.questions.map((q) => (
                <label key={q.key} className="check">
                  <input type="checkbox" checked={!!answers[q.key]}
                    onChange={(e) => setAnswers((a) => ({ ...a, [q.key]: e.target.checked }))} />
                  {q.text}
                </label>
              ))}
            </fieldset>
          );
        })}
      </div>
      <button type="button" className="primary" onClick={() => void save()} disabled={busy || dimensions.length === 0}>
        {m.saveAssessment}
      </button>
    </section>
  );
}
