// /accounts/:id/360: the 360 sections alone, under the account's name (for a direct link and for
// the browser tests until the account page mounts them under its profile).
import { Link, useParams } from "react-router-dom";

import { accounts } from "../../lib/api";
import { ProblemBanner } from "../../lib/fields";
import { useMessages } from "../../lib/i18n";
import { shellMessages } from "../../lib/messages";
import { Account360Sections } from "./Account360Sections";
import { useLoad } from "./load";
import { messages } from "./messages";

export default function Account360Page() {
  const m = useMessages(messages);
  const shell = useMessages(shellMessages);
  const { id = "" } = useParams();
  const { data, problem, loading } = useLoad(async () => {
    const { data } = await accounts.GET("/v1/accounts/{account_id}", { params: { path: { account_id: id } } });
    return data!;
  }, id);
  if (problem || loading) {
    return (
      <section aria-labelledby="a360-title">
        <h1 id="a360-title">{m.title}</h1>
        {loading && <p role="status">{shell.loading}</p>}
        <ProblemBanner problem={problem} />
      </section>
    );
  }
  return (
    <section aria-labelledby="a360-title">
      <p><Link to={`/accounts/${id}`}>{m.back}</Link></p>
      <h1 id="a360-title">{m.title}: {data?.name}</h1>
      <Account360Sections accountId={id} />
    </section>
  );
}
