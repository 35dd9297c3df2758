"""Account hierarchy (客户层级): group → subsidiaries → branches. Pure helpers."""
from __future__ import annotations

import uuid
from collections.abc import Iterable

from kam_shared.domain_errors import Conflict


def check_no_cycle(account_id: uuid.UUID, new_parent_id: uuid.UUID | None,
                   parent_chain: Iterable[uuid.UUID]) -> None:
    """`parent_chain` is the new parent followed by all its ancestors. Making `new_parent_id` the
    parent of `account_id` closes a loop when the account is already among them."""
    if new_parent_id is None:
        return
    if new_parent_id == account_id or account_id in set(parent_chain):
        raise Conflict(f"account {new_parent_id} is {account_id} itself or below it in the hierarchy; "
                       "that parent would make a cycle", field="parent_id")


def build_tree(root_id: uuid.UUID, nodes: dict[uuid.UUID, dict]) -> dict:
    """Nest `nodes` (id → node with a `parent_id`) under the root; children ordered by name."""
    children: dict[uuid.UUID, list[dict]] = {}
    for node in nodes.values():
        if node["id"] != root_id and node.get("parent_id") is not None:
            children.setdefault(node["parent_id"], []).append(node)

    def nest(node: dict, seen: frozenset) -> dict:
        kids = sorted(children.get(node["id"], []), key=lambda n: (n.get("name") or "", str(n["id"])))
        return {**node, "children": [nest(k, seen | {k["id"]}) for k in kids if k["id"] not in seen]}

    return nest(nodes[root_id], frozenset({root_id}))
