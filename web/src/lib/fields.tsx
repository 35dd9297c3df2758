// Form pieces: a labelled field that shows its error (from schema checks before sending, or from
// the server's errors[] after), and the banner that shows any problem in words.
import { useId, type ReactNode } from "react";

import { fmt, useMessages } from "./i18n";
import { shellMessages } from "./messages";
import type { Problem } from "./problem";
import type { RuleProblem } from "./schema";

export function Field({ label, error, children, hint }: {
  label: string;
  error?: string;
  hint?: string;
  children: (props: { id: string; "aria-invalid": boolean; "aria-describedby"?: string }) => ReactNode;
}) {
  const id = useId();
  const errId = `${id}-err`;
  const hintId = `${id}-hint`;
  const describedBy = [error ? errId : "", hint ? hintId : ""].filter(Boolean).join(" ") || undefined;
  return (
    <div className={`field${error ? " field-invalid" : ""}`}>
      <label htmlFor={id}>{label}</label>
      {children({ id, "aria-invalid": !!error, "aria-describedby": describedBy })}
      {hint && <small id={hintId} className="hint">{hint}</small>}
      {error && <small id={errId} className="field-error" role="alert">{error}</small>}
    </div>
  );
}

/** The words for a problem: its detail, or what its status means when the service gave none. */
export function useProblemText(): (p: Problem) => string {
  const m = useMessages(shellMessages);
  return (p: Problem) => {
    const byStatus: Record<number, string> = {
      0: m.networkError, 401: m.sessionExpired, 403: m.forbidden, 404: m.notFound, 409: m.conflict,
      412: m.stale, 429: m.tooMany, 502: m.unavailable, 503: m.unavailable,
    };
    if (p.status === -1) return p.title; // our own check before sending
    const general = byStatus[p.status] ?? p.title;
    return p.detail && p.status !== 404 && p.status !== 412 ? `${general}: ${p.detail}` : general;
  };
}

export function ProblemBanner({ problem, onDismiss }: { problem: Problem | null; onDismiss?: () => void }) {
  const m = useMessages(shellMessages);
  const text = useProblemText();
  if (!problem) return null;
  return (
    <div className="problem" role="alert">
      <strong>{m.errorTitle}</strong> <span className="problem-text">{text(problem)}</span>
      {problem.errors.length > 0 && (
        <ul>
          {problem.errors.map((e, i) => (
            <li key={i}>
              <code>{e.field}</code>: {e.message}
            </li>
          ))}
        </ul>
      )}
      {onDismiss && (
        <button type="button" className="link" onClick={onDismiss}>
          {m.dismiss}
        </button>
      )}
    </div>
  );
}

/** Schema check results as a Problem (status 0: never sent), in words, for the same display. */
export function useCheckProblem(): (found: RuleProblem[]) => Problem | null {
  const m = useMessages(shellMessages);
  return (found: RuleProblem[]) => {
    if (found.length === 0) return null;
    const words: Record<string, string> = {
      required: m.ruleRequired, minLength: m.ruleMinLength, maxLength: m.ruleMaxLength, minimum: m.ruleMinimum,
      maximum: m.ruleMaximum, enum: m.ruleEnum, date: m.ruleDate, number: m.ruleNumber, integer: m.ruleInteger,
      maxItems: m.ruleMaxItems, pattern: m.rulePattern,
    };
    const errors = found.map((f) => ({ field: f.field, message: fmt(words[f.rule], { n: f.limit ?? "" }) }));
    return { type: "about:blank", title: m.checkBeforeSend, status: -1, detail: "", errors, extra: {} };
  };
}
