import { useState, type FormEvent } from "react";
import { Navigate, useNavigate, useSearchParams } from "react-router-dom";

import { useAuth } from "../../lib/auth";
import { Field, ProblemBanner } from "../../lib/fields";
import { useMessages } from "../../lib/i18n";
import { problemOf, type Problem } from "../../lib/problem";
import { messages } from "./messages";

/** Only paths on this origin are followed after sign-in (no open redirect). */
function safeNext(next: string | null): string {
  return next && next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/signin") ? next : "/";
}

export default function SignIn() {
  const m = useMessages(messages);
  const { user, signIn } = useAuth();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [wrongPassword, setWrongPassword] = useState(false);
  const [busy, setBusy] = useState(false);
  const next = safeNext(params.get("next"));

  if (user) return <Navigate to={next} replace />;

  async function submit(e: FormEvent) {
    e.preventDefault();
    setBusy(true);
    setProblem(null);
    setWrongPassword(false);
    try {
      await signIn(email.trim(), password);
      navigate(next, { replace: true });
    } catch (err) {
      const p = problemOf(err);
      if (p.status === 401) setWrongPassword(true);
      else setProblem(p);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="signin card" aria-labelledby="signin-title">
      <h1 id="signin-title">{m.title}</h1>
      {params.get("expired") && <p className="notice">{m.expired}</p>}
      <ProblemBanner problem={problem} />
      {wrongPassword && <p className="problem" role="alert">{m.failed}</p>}
      <form onSubmit={submit} noValidate>
        <Field label={m.email}>
          {(p) => (
            <input {...p} type="email" autoComplete="username" required value={email}
              onChange={(e) => setEmail(e.target.value)} />
          )}
        </Field>
        <Field label={m.password}>
          {(p) => (
            <input {...p} type="password" autoComplete="current-password" required value={password}
              onChange={(e) => setPassword(e.target.value)} />
          )}
        </Field>
        <button type="submit" className="primary" disabled={busy || !email || !password}>
          {m.submit}
        </button>
      </form>
      <p className="hint">{m.demo}</p>
    </section>
  );
}
