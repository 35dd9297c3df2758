// Sales team with the primary owner, the owner change (only a superior of the owner, or an admin:
// the control says why when it is disabled), and the primary owner's confirmation.
import { useEffect, useState, type FormEvent } from "react";

import schemaJson from "../../api/generated/opportunity-svc.schemas.json";
import { opportunities, team } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { Field, ProblemBanner } from "../../lib/fields";
import { useMessages } from "../../lib/i18n";
import { problemOf, type Problem } from "../../lib/problem";
import { enumOf, type SchemaSet } from "../../lib/schema";
import { useUserNames } from "../../lib/users";
import { messages } from "./messages";
import type { Opportunity } from "./useOpportunity";

const schemas = schemaJson as unknown as SchemaSet;

interface Person {
  id: string;
  name: string;
}

/** Whether the signed-in user may change the owner: an admin, or anyone above the owner. */
function useMayChangeOwner(ownerId: string): boolean {
  const { user } = useAuth();
  const [above, setAbove] = useState(false);
  useEffect(() => {
    if (!user || user.role === "admin") return;
    team.GET("/v1/users/{user_id}/chain", { params: { path: { user_id: ownerId } } })
      .then(({ data }) => setAbove(data!.chain.some((c) => c.id === user.id && c.id !== ownerId)))
      .catch(() => setAbove(false));
  }, [user, ownerId]);
  return user?.role === "admin" || above;
}

function usePeople(): Person[] {
  const { user } = useAuth();
  const [people, setPeople] = useState<Person[]>([]);
  useEffect(() => {
    if (!user) return;
    team.GET("/v1/users/{user_id}/subtree", { params: { path: { user_id: user.id } } })
      .then(({ data }) => setPeople(data!.users.map((u) => ({ id: u.id, name: u.name }))))
      .catch(() => setPeople([{ id: user.id, name: user.name }]));
  }, [user]);
  return people;
}

export function SalesTeam({ opp, etag, onChanged }: { opp: Opportunity; etag: string | undefined; onChanged: () => Promise<void> }) {
  const m = useMessages(messages);
  const { user } = useAuth();
  const people = usePeople();
  const names = useUserNames([opp.owner_id, ...(opp.team ?? []).map((t) => t.user_id)]);
  const mayChangeOwner = useMayChangeOwner(opp.owner_id);
  const isOwner = user?.id === opp.owner_id;
  const roles = enumOf(schemas, "TeamMemberIn", "role");
  const [member, setMember] = useState("");
  const [memberRole, setMemberRole] = useState(roles[0] ?? "sales");
  const [newOwner, setNewOwner] = useState("");
  const [reason, setReason] = useState("");
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  async function run(action: () => Promise<unknown>) {
    setBusy(true);
    setProblem(null);
    try {
      await action();
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
      await onChanged(); // every outcome re-reads: a 412 brings the latest version
    }
  }
  const opp_id = opp.id;
  const header = { "if-match": etag };

  function addMember(e: FormEvent) {
    e.preventDefault();
    if (!member) return;
    void run(() => opportunities.PUT("/v1/opportunities/{opp_id}/team/{user_id}", {
      params: { path: { opp_id, user_id: member }, header }, body: { role: memberRole as never },
    }));
  }
  function changeOwner(e: FormEvent) {
    e.preventDefault();
    if (!newOwner) return;
    void run(() => opportunities.POST("/v1/opportunities/{opp_id}/owner", {
      params: { path: { opp_id }, header }, body: { owner_id: newOwner, reason: reason.trim() || null },
    }));
  }

  return (
    <section className="card" aria-labelledby="team-title">
      <h2 id="team-title">{m.team}</h2>
      <ProblemBanner problem={problem} />
      <p><strong>{m.primaryOwner}:</strong> {names[opp.owner_id] ?? "…"}</p>
      <table>
        <thead><tr><th scope="col">{m.member}</th><th scope="col">{m.role}</th><th scope="col"><span className="sr-only">{m.removeMember}</span></th></tr></thead>
        <tbody>
          {(opp.team ?? []).map((t) => (
            <tr key={t.user_id}>
              <td>{names[t.user_id] ?? t.user_id.slice(0, 8)}</td>
              <td>{t.role}</td>
              <td>
                <button type="button" disabled={busy} aria-label={`${m.removeMember}: ${names[t.user_id] ?? t.user_id}`}
                  onClick={() => void run(() => opportunities.DELETE("/v1/opportunities/{opp_id}/team/{user_id}", {
                    params: { path: { opp_id, user_id: t.user_id }, header },
                  }))}>{m.removeMember}</button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form className="row" onSubmit={addMember}>
        <Field label={m.member}>
          {(p) => (
            <select {...p} value={member} onChange={(e) => setMember(e.target.value)}>
              <option value="">—</option>
              {people.filter((x) => x.id !== opp.owner_id).map((x) => <option key={x.id} value={x.id}>{x.name}</option>)}
            </select>
          )}
        </Field>
        <Field label={m.role}>
          {(p) => (
            <select {...p} value={memberRole} onChange={(e) => setMemberRole(e.target.value)}>
              {roles.map((r) => <option key={r} value={r}>{r}</option>)}
            </select>
          )}
        </Field>
        <button type="submit" disabled={busy || !member}>{m.addMember}</button>
      </form>
      <h3>{m.changeOwner}</h3>
      <form className="row" onSubmit={changeOwner}>
        <Field label={m.newOwner} hint={mayChangeOwner ? undefined : m.ownerChangeNotAllowed}>
          {(p) => (
            <select {...p} disabled={!mayChangeOwner} value={newOwner} onChange={(e) => setNewOwner(e.target.value)}>
              <option value="">—</option>
              {people.filter((x) => x.id !== opp.owner_id).map((x) => <option key={x.id} value={x.id}>{x.name}</option>)}
            </select>
          )}
        </Field>
        <Field label={m.reason}>
          {(p) => <input {...p} disabled={!mayChangeOwner} value={reason} onChange={(e) => setReason(e.target.value)} />}
        </Field>
        <button type="submit" disabled={!mayChangeOwner || busy || !newOwner}
          title={mayChangeOwner ? undefined : m.ownerChangeNotAllowed}>{m.changeOwner}</button>
      </form>
      <h3>{m.confirmation}</h3>
      <p data-testid="confirmation">{opp.confirmed ? m.confirmed : m.notConfirmed}</p>
      <button type="button" disabled={!isOwner || busy} title={isOwner ? undefined : m.confirmOnlyOwner}
        onClick={() => void run(() => opportunities.POST("/v1/opportunities/{opp_id}/confirm", {
          params: { path: { opp_id }, header }, body: { confirmed: !opp.confirmed },
        }))}>
        {opp.confirmed ? m.withdraw : m.confirm}
      </button>
      {!isOwner && <p className="hint">{m.confirmOnlyOwner}</p>}
    </section>
  );
}
