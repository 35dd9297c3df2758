// Group → subsidiary → branch: the ancestors down to this account's parent, then everything below
// it (GET /v1/accounts/{id}/tree). A node the user may not see is in the tree but has no name.
import type { ReactNode } from "react";
import { Link } from "react-router-dom";

import { accounts, type AccountSchemas } from "../../lib/api";
import { useMessages } from "../../lib/i18n";
import { Section, useLoad } from "./load";
import { messages } from "./messages";
import { useWords } from "./words";

type Node = AccountSchemas["schemas"]["TreeNode"];

function NodeLabel({ node, current }: { node: Node; current: boolean }) {
  const m = useMessages(messages);
  const words = useWords();
  if (node.restricted) return <span className="muted">{m.restricted}</span>;
  const name = current ? <strong aria-current="page">{node.name}</strong> : <Link to={`/accounts/${node.id}`}>{node.name}</Link>;
  const tags = [node.type && words(node.type), node.tier && words(node.tier)].filter(Boolean).join(" · ");
  return <>{name}{tags && <span className="muted"> · {tags}</span>}{current && <span className="badge">{m.thisAccount}</span>}</>;
}

function Branch({ node, currentId }: { node: Node; currentId: string }) {
  const kids = node.children ?? [];
  return (
    <li>
      <NodeLabel node={node} current={node.id === currentId} />
      {kids.length > 0 && <ul>{kids.map((k) => <Branch key={k.id} node={k} currentId={currentId} />)}</ul>}
    </li>
  );
}

export function HierarchySection({ accountId }: { accountId: string }) {
  const m = useMessages(messages);
  const { data, problem, loading, reload } = useLoad(async () => {
    const { data } = await accounts.GET("/v1/accounts/{account_id}/tree", { params: { path: { account_id: accountId } } });
    return data!;
  }, accountId);
  const alone = !!data && data.ancestors.length === 0 && (data.tree.children ?? []).length === 0;
  // The ancestors nest one inside the other, the account's own subtree at the bottom.
  const nested = data && data.ancestors.reduceRight<ReactNode>(
    (inner, a) => <li><NodeLabel node={a} current={false} /><ul>{inner}</ul></li>,
    <Branch node={data.tree} currentId={accountId} />,
  );
  return (
    <Section id="a360-hierarchy" title={m.hierarchy} loading={loading} problem={problem} onRetry={reload}
      empty={alone} emptyText={m.noHierarchy}>
      {data && <ul className="tree" data-testid="account-tree">{nested}</ul>}
    </Section>
  );
}
