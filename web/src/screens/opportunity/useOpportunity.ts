import { useCallback, useEffect, useState } from "react";

import { etagOf, opportunities, type OpportunitySchemas } from "../../lib/api";
import { problemOf, type Problem } from "../../lib/problem";

export type Opportunity = OpportunitySchemas["schemas"]["OpportunityOut"];
export type OppSchemas = OpportunitySchemas["schemas"];

/** The opportunity and the ETag of the read, for the If-Match of every change on the page. */
export function useOpportunity(id: string) {
  const [opp, setOpp] = useState<Opportunity | null>(null);
  const [etag, setEtag] = useState<string | undefined>();
  const [problem, setProblem] = useState<Problem | null>(null);

  const reload = useCallback(async () => {
    try {
      const { data, response } = await opportunities.GET("/v1/opportunities/{opp_id}", { params: { path: { opp_id: id } } });
      setOpp(data!);
      setEtag(etagOf(response) ?? `"${data!.version}"`);
      setProblem(null);
    } catch (err) {
      setProblem(problemOf(err));
    }
  }, [id]);

  useEffect(() => {
    void reload();
  }, [reload]);

  /** After a change: the answer's state when it is the opportunity, else read it again. */
  const changed = useCallback(async (next?: Opportunity, response?: Response) => {
    if (next && response) {
      setOpp(next);
      setEtag(etagOf(response) ?? `"${next.version}"`);
    } else {
      await reload();
    }
  }, [reload]);

  return { opp, etag, problem, reload, changed };
}
