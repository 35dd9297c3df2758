// The Team screen (managers and admins): the hierarchy (reporting lines and org units), users,
// territories with their rules, and quotas with allocation gap and approval. What each part shows
// and allows is what team-svc answers for the signed-in user.
import "./team.css";

import { useAuth } from "../../lib/auth";
import { useMessages } from "../../lib/i18n";
import { useLoad } from "../../lib/load";
import { loadDirectory } from "./directory";
import { HierarchySection } from "./Hierarchy";
import { messages } from "./messages";
import { QuotasSection } from "./Quotas";
import { TerritoriesSection } from "./Territories";
import { UsersSection } from "./Users";

export default function Team() {
  const m = useMessages(messages);
  const { user } = useAuth();
  const directory = useLoad(() => loadDirectory(user!), user?.id ?? "");
  return (
    <section aria-labelledby="team-title" className="team">
      <h1 id="team-title">{m.title}</h1>
      <p className="muted">{m.intro}</p>
      <HierarchySection directory={directory} />
      <UsersSection directory={directory} />
      <TerritoriesSection dir={directory.data} />
      <QuotasSection dir={directory.data} />
    </section>
  );
}
