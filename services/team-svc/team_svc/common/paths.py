"""Materialised paths for the two trees team-svc owns (reporting lines, org units).

A node's path is its ancestors' ids and its own, top first: `/<top>/<…>/<self>/` (uuid hex).
"Is A above B" is then a look at B's path alone, and "A's subtree" is one index range scan
(`path >= A.path AND path < A.path[:-1] + '0'`: '0' is the character right after '/'), which
keeps both O(1) queries however deep or wide the organisation is.
"""
from __future__ import annotations

import uuid

from kam_shared.domain_errors import ValidationProblem

# Deep enough for any sales organisation; keeps paths well under PostgreSQL's btree entry limit.
MAX_DEPTH = 60


def path_of(node_id: uuid.UUID, parent_path: str | None) -> str:
    path = (parent_path or "/") + node_id.hex + "/"
    if depth(path) > MAX_DEPTH:
        raise ValidationProblem(f"the hierarchy would be deeper than {MAX_DEPTH} levels")
    return path


def depth(path: str) -> int:
    """1 for a top-level node."""
    return path.count("/") - 1


def depth_of_length(length: int) -> int:
    """The depth of a path from its length alone: '/' then 32 hex digits and a '/' per level."""
    return (length - 1) // 33


def ids_on(path: str) -> list[uuid.UUID]:
    """Every id on the path, top first, the node itself last."""
    return [uuid.UUID(part) for part in path.strip("/").split("/") if part]


def ancestors(path: str) -> list[uuid.UUID]:
    """Everyone above the node, top first."""
    return ids_on(path)[:-1]


def is_above(superior_id: uuid.UUID, subordinate_path: str) -> bool:
    """True when `superior_id` is somewhere up the chain of the node with `subordinate_path`."""
    marker = f"/{superior_id.hex}/"
    return marker in subordinate_path and not subordinate_path.endswith(marker)


def subtree_range(path: str) -> tuple[str, str]:
    """[low, high) bounds of the paths in the subtree rooted at `path` (the root included)."""
    return path, path[:-1] + "0"


def would_cycle(node_id: uuid.UUID, new_parent_path: str | None) -> bool:
    """Moving a node under a parent whose path contains the node itself would make a cycle."""
    return new_parent_path is not None and f"/{node_id.hex}/" in new_parent_path


def rebased(path: str, old_prefix: str, new_prefix: str) -> str:
    """The path of a node in a moved subtree: the moved root's old prefix swapped for its new one."""
    assert path.startswith(old_prefix)
    return new_prefix + path[len(old_prefix):]
