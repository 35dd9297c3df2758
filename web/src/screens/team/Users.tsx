// Users with role, superior, org unit and active flag. An admin edits role, superior, org unit,
// name and title and (de)activates (PATCH /v1/users/{id} with If-Match); an admin, or a manager
// below themselves, creates users (POST /v1/users). Bodies are checked against the UserCreate /
// UserPatch schemas before sending; the server's errors[] show next to the same fields.
import { useState, type FormEvent } from "react";

import schemaJson from "../../api/generated/team-svc.schemas.json";
import { idempotencyKey, team } from "../../lib/api";
import { useAuth } from "../../lib/auth";
import { Field, ProblemBanner, useCheckProblem } from "../../lib/fields";
import { fmt, useMessages } from "../../lib/i18n";
import { fieldMessage, problemOf, type Problem } from "../../lib/problem";
import { checkBody, enumOf, type SchemaSet } from "../../lib/schema";
import { Section, type Loaded } from "../../lib/load";
import type { Directory, Person } from "./directory";
import { messages } from "./messages";
import { useRoleName } from "./words";

const schemas = schemaJson as unknown as SchemaSet;

interface Draft {
  email: string;
  name: string;
  role: string;
  superior_id: string;
  org_unit_id: string;
  title: string;
  password: string;
}

function PeopleSelect({ value, onChange, people, allowNone, ...p }: {
  value: string;
  onChange: (v: string) => void;
  people: Person[];
  allowNone: boolean;
  id: string;
  "aria-invalid": boolean;
  "aria-describedby"?: string;
}) {
  const m = useMessages(messages);
  return (
    <select {...p} value={value} onChange={(e) => onChange(e.target.value)}>
      {allowNone && <option value="">{m.none}</option>}
      {people.map((x) => <option key={x.id} value={x.id}>{x.name} ({x.email})</option>)}
    </select>
  );
}

/** The fields a user form has; `only` leaves out what the form does not send. */
function UserFields({ draft, set, problem, dir, people, roles, superiorRequired, only }: {
  draft: Draft;
  set: (k: keyof Draft, v: string) => void;
  problem: Problem | null;
  dir: Directory;
  people: Person[];
  roles: string[];
  superiorRequired: boolean;
  only: (keyof Draft)[];
}) {
  const m = useMessages(messages);
  const roleName = useRoleName();
  const err = (f: string) => fieldMessage(problem, f);
  const text = (k: keyof Draft, label: string, type = "text", auto?: string) => only.includes(k) && (
    <Field label={label} error={err(k)}>
      {(p) => <input {...p} type={type} autoComplete={auto} value={draft[k]} onChange={(e) => set(k, e.target.value)} />}
    </Field>
  );
  return (
    <>
      {text("email", m.email, "email", "off")}
      {text("name", m.name)}
      {only.includes("role") && (
        <Field label={m.role} error={err("role")}>
          {(p) => (
            <select {...p} value={draft.role} onChange={(e) => set("role", e.target.value)}>
              {roles.map((r) => <option key={r} value={r}>{roleName(r)}</option>)}
            </select>
          )}
        </Field>
      )}
      {only.includes("superior_id") && (
        <Field label={m.superior} error={err("superior_id")}>
          {(p) => <PeopleSelect {...p} value={draft.superior_id} onChange={(v) => set("superior_id", v)} people={people}
            allowNone={!superiorRequired} />}
        </Field>
      )}
      {only.includes("org_unit_id") && (
        <Field label={m.orgUnit} error={err("org_unit_id")}>
          {(p) => (
            <select {...p} value={draft.org_unit_id} onChange={(e) => set("org_unit_id", e.target.value)}>
              <option value="">{m.none}</option>
              {dir.units.map((u) => <option key={u.id} value={u.id}>{u.name}</option>)}
            </select>
          )}
        </Field>
      )}
      {text("title", m.jobTitle)}
      {text("password", m.password, "password", "new-password")}
    </>
  );
}

function CreateUser({ dir, onCreated }: { dir: Directory; onCreated: () => Promise<void> }) {
  const m = useMessages(messages);
  const { user } = useAuth();
  const toProblem = useCheckProblem();
  const isAdmin = user?.role === "admin";
  // A manager creates below themselves (or below someone below them), never an admin.
  const roles = enumOf(schemas, "UserCreate", "role").filter((r) => isAdmin || r !== "admin");
  const empty: Draft = { email: "", name: "", role: "rep", superior_id: isAdmin ? "" : user?.id ?? "", org_unit_id: "", title: "", password: "" };
  const [draft, setDraft] = useState<Draft>(empty);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [notice, setNotice] = useState("");
  const [busy, setBusy] = useState(false);
  const people = dir.people.filter((p) => p.active);

  async function create(e: FormEvent) {
    e.preventDefault();
    setNotice("");
    const body = {
      email: draft.email.trim(), name: draft.name.trim(), role: draft.role, password: draft.password,
      superior_id: draft.superior_id || null, org_unit_id: draft.org_unit_id || null, title: draft.title.trim() || null,
    };
    const found = toProblem(checkBody(body, "UserCreate", schemas));
    setProblem(found);
    if (found) return;
    setBusy(true);
    try {
      const { data } = await team.POST("/v1/users", { body: body as never, headers: { "Idempotency-Key": idempotencyKey() } });
      setDraft(empty);
      setNotice(fmt(m.created, { name: data!.name }));
      await onCreated();
    } catch (err) {
      setProblem(problemOf(err)); // the draft stays as typed
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={create} noValidate aria-labelledby="create-user-title" data-testid="create-user">
      <h3 id="create-user-title">{m.createUser}</h3>
      {!isAdmin && <p className="hint">{m.managerCreates}</p>}
      <ProblemBanner problem={problem} />
      <div className="row">
        <UserFields draft={draft} set={(k, v) => setDraft((d) => ({ ...d, [k]: v }))} problem={problem} dir={dir}
          people={people} roles={roles} superiorRequired={!isAdmin}
          only={["email", "name", "role", "superior_id", "org_unit_id", "title", "password"]} />
        <button type="submit" className="primary" disabled={busy}>{busy ? "…" : m.create}</button>
      </div>
      <p role="status" className="ok">{notice}</p>
    </form>
  );
}

function EditUser({ person, dir, onDone }: { person: Person; dir: Directory; onDone: (saved: boolean) => Promise<void> }) {
  const m = useMessages(messages);
  const toProblem = useCheckProblem();
  const before: Draft = {
    email: person.email, name: person.name, role: person.role, superior_id: person.superior_id ?? "",
    org_unit_id: person.org_unit_id ?? "", title: person.title ?? "", password: "",
  };
  const [draft, setDraft] = useState<Draft>(before);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);

  async function save(e: FormEvent) {
    e.preventDefault();
    const body: Record<string, unknown> = {};
    if (draft.name !== before.name) body.name = draft.name.trim();
    if (draft.role !== before.role) body.role = draft.role;
    if (draft.superior_id !== before.superior_id) body.superior_id = draft.superior_id || null;
    if (draft.org_unit_id !== before.org_unit_id) body.org_unit_id = draft.org_unit_id || null;
    if (draft.title !== before.title) body.title = draft.title.trim() || null;
    const found = toProblem(checkBody(body, "UserPatch", schemas));
    setProblem(found);
    if (found) return;
    if (Object.keys(body).length === 0) return onDone(false);
    setBusy(true);
    try {
      await team.PATCH("/v1/users/{user_id}", {
        params: { path: { user_id: person.id }, header: { "if-match": `"${person.version}"` } }, body: body as never,
      });
      await onDone(true);
    } catch (err) {
      const p = problemOf(err);
      setProblem(p);
      if (p.status === 412) await onDone(false); // someone else changed them: show the latest
    } finally {
      setBusy(false);
    }
  }

  return (
    <form onSubmit={save} noValidate aria-label={fmt(m.editUser, { name: person.name })} data-testid="edit-user">
      <ProblemBanner problem={problem} />
      <div className="row">
        <UserFields draft={draft} set={(k, v) => setDraft((d) => ({ ...d, [k]: v }))} problem={problem} dir={dir}
          people={dir.people.filter((p) => p.id !== person.id && p.active)} roles={enumOf(schemas, "UserPatch", "role")}
          superiorRequired={false} only={["name", "role", "superior_id", "org_unit_id", "title"]} />
        <button type="submit" className="primary" disabled={busy}>{m.save}</button>
        <button type="button" onClick={() => void onDone(false)}>{m.cancel}</button>
      </div>
    </form>
  );
}

function UserRow({ person, dir, isAdmin, onChanged }: {
  person: Person;
  dir: Directory;
  isAdmin: boolean;
  onChanged: () => Promise<void>;
}) {
  const m = useMessages(messages);
  const roleName = useRoleName();
  const [editing, setEditing] = useState(false);
  const [problem, setProblem] = useState<Problem | null>(null);
  const [busy, setBusy] = useState(false);
  const superior = person.superior_id ? dir.byId.get(person.superior_id)?.name ?? person.superior_id.slice(0, 8) : "—";
  const unit = person.org_unit_id ? dir.unitById.get(person.org_unit_id)?.name ?? person.org_unit_id.slice(0, 8) : "—";

  async function setActive(active: boolean) {
    setBusy(true);
    setProblem(null);
    try {
      await team.PATCH("/v1/users/{user_id}", {
        params: { path: { user_id: person.id }, header: { "if-match": `"${person.version}"` } }, body: { active },
      });
    } catch (err) {
      setProblem(problemOf(err));
    } finally {
      setBusy(false);
      await onChanged();
    }
  }

  return (
    <>
      <tr data-testid={`user-${person.email}`}>
        <th scope="row">{person.name}</th>
        <td>{person.email}</td>
        <td>{roleName(person.role)}</td>
        <td>{superior}</td>
        <td>{unit}</td>
        <td>{person.title ?? "—"}</td>
        <td>{person.active ? m.yes : m.no}</td>
        {isAdmin && (
          <td className="actions">
            <button type="button" aria-expanded={editing} aria-label={fmt(m.editUser, { name: person.name })}
              onClick={() => setEditing(!editing)}>{m.edit}</button>{" "}
            <button type="button" className={person.active ? "danger" : undefined} disabled={busy}
              aria-label={`${person.active ? m.deactivate : m.reactivate}: ${person.name}`}
              onClick={() => void setActive(!person.active)}>{person.active ? m.deactivate : m.reactivate}</button>
          </td>
        )}
      </tr>
      {(editing || problem) && (
        <tr>
          <td colSpan={isAdmin ? 8 : 7}>
            <ProblemBanner problem={problem} onDismiss={() => setProblem(null)} />
            {editing && <EditUser person={person} dir={dir} onDone={async (saved) => {
              if (saved) setEditing(false);
              await onChanged();
            }} />}
          </td>
        </tr>
      )}
    </>
  );
}

export function UsersSection({ directory }: { directory: Loaded<Directory> }) {
  const m = useMessages(messages);
  const { user } = useAuth();
  const isAdmin = user?.role === "admin";
  const dir = directory.data;
  const people = dir ? [...dir.people].sort((a, b) => a.name.localeCompare(b.name)) : [];
  return (
    <Section id="team-users" title={m.users} loading={directory.loading} problem={directory.problem} onRetry={directory.reload}>
      {!isAdmin && <p className="hint">{m.onlyAdminEdits}</p>}
      {dir && (
        <>
          <table data-testid="users-table">
            <thead>
              <tr>
                <th scope="col">{m.name}</th><th scope="col">{m.email}</th><th scope="col">{m.role}</th>
                <th scope="col">{m.superior}</th><th scope="col">{m.orgUnit}</th><th scope="col">{m.jobTitle}</th>
                <th scope="col">{m.active}</th>{isAdmin && <th scope="col"><span className="sr-only">{m.edit}</span></th>}
              </tr>
            </thead>
            <tbody>
              {people.map((p) => <UserRow key={p.id} person={p} dir={dir} isAdmin={isAdmin} onChanged={directory.reload} />)}
            </tbody>
          </table>
          <CreateUser dir={dir} onCreated={directory.reload} />
        </>
      )}
    </Section>
  );
}
