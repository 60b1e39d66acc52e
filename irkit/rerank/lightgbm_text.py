"""LightGBM's text model format, checked before LightGBM's own parser sees it.

LightGBM trusts its model file: a crafted one aborts the process (a failed
``CHECK``) or loads and predicts with a split on a feature that does not exist, a
negative child or an index past an array's end. :func:`checked_model_text` reads
the file as plain data, checks the header and every tree (array sizes, feature
and child indexes, the nodes forming one tree), and returns the text that
LightGBM may then load: the header and the trees only, without ``tree_sizes``
(byte offsets LightGBM would follow unchecked) and the trailing sections
(importances, training parameters) that prediction does not need.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

from irkit.errors import InputError

MAX_BYTES = 1 << 30
MAX_TREES = 1_000_000
MAX_LEAVES = 1 << 17
# Arrays of num_leaves - 1 (internal nodes) and num_leaves (leaves) entries.
_NODE_ARRAYS = ("split_feature", "threshold", "decision_type", "left_child", "right_child")
_LEAF_ARRAYS = ("leaf_value",)
_OPTIONAL_NODE_ARRAYS = ("split_gain", "internal_value", "internal_weight", "internal_count")
_OPTIONAL_LEAF_ARRAYS = ("leaf_weight", "leaf_count")
_END = "end of trees"
_INT = re.compile(r"-?[0-9]{1,12}")
# What LightGBM writes for a ranker, and nothing else: an unknown key is refused.
_HEADER_KEYS = (
    "version", "num_class", "num_tree_per_iteration", "label_index", "max_feature_idx", "objective",
    "feature_names", "feature_infos", "tree_sizes",
)  # fmt: skip
_TREE_KEYS = {"Tree", "num_leaves", "num_cat", "is_linear", "shrinkage"}.union(
    _NODE_ARRAYS, _LEAF_ARRAYS, _OPTIONAL_NODE_ARRAYS, _OPTIONAL_LEAF_ARRAYS
)
_OBJECTIVES = ("lambdarank", "rank_xendcg")


def checked_model_text(path: str | os.PathLike[str], n_features: int) -> str:
    """The checked text of the LightGBM model at ``path``, which must use ``n_features`` features."""
    p = Path(path)
    if p.stat().st_size > MAX_BYTES:
        raise InputError(f"a LightGBM model larger than {MAX_BYTES >> 20} MiB", p)
    try:
        text = p.read_text(encoding="ascii")
    except UnicodeDecodeError as e:
        raise InputError(f"not a LightGBM text model (a non-ASCII byte at offset {e.start})", p) from None
    lines = text.split("\n")
    if not lines or lines[0].strip() != "tree":
        raise InputError("not a LightGBM text model (the first line is not 'tree')", p, 1)
    # Blocks of key=value lines: the header, then one per "Tree=k", up to "end of trees".
    blocks: list[tuple[int, dict[str, str]]] = [(1, {})]
    ended = False
    for n, raw in enumerate(lines[1:], 2):
        line = raw.strip()
        if line == _END:
            ended = True
            break
        if not line:
            continue
        key, eq, value = line.partition("=")
        if not eq:
            raise InputError(f"expected key=value, found {line[:40]!r}", p, n)
        if key == "Tree":
            blocks.append((n, {}))
        if key not in (_TREE_KEYS if len(blocks) > 1 else _HEADER_KEYS):
            raise InputError(f"{key!r} is not a key of LightGBM's ranking models", p, n)
        if key in blocks[-1][1]:
            raise InputError(f"{key} given twice", p, n)
        blocks[-1][1][key] = value
    if not ended:
        raise InputError(f"no '{_END}' line: truncated", p)
    (_, header), trees = blocks[0], blocks[1:]
    _check_header(header, n_features, len(trees), p)
    if not trees:
        raise InputError("the model has no trees", p)
    if len(trees) > MAX_TREES:
        raise InputError(f"{len(trees):,} trees (at most {MAX_TREES:,})", p)
    out = ["tree"] + [f"{k}={v}" for k, v in header.items() if k != "tree_sizes"] + [""]
    for i, (line, tree) in enumerate(trees):
        if tree.get("Tree") != str(i):
            raise InputError(f"tree {tree.get('Tree')!r} where tree {i} was expected", p, line)
        _check_tree(tree, n_features, p, line)
        out += [f"{k}={v}" for k, v in tree.items()] + [""]
    return "\n".join([*out, _END, ""])


def _int(value: str, what: str, path: Path, line: int | None) -> int:
    if not _INT.fullmatch(value.strip()):
        raise InputError(f"{what} {value[:40]!r} is not an integer", path, line)
    return int(value)


def _check_header(header: dict[str, str], n_features: int, n_trees: int, path: Path) -> None:
    for key in ("version", "num_class", "num_tree_per_iteration", "max_feature_idx"):
        if key not in header:
            raise InputError(f"the header has no {key}", path)
    if header.get("objective", "").strip() not in _OBJECTIVES:
        raise InputError(
            f"objective {header.get('objective', '')[:40]!r} is not a ranking objective ({', '.join(_OBJECTIVES)})",
            path,
        )
    if _int(header.get("label_index", "0"), "label_index", path, None) != 0:
        raise InputError("label_index is not 0", path)
    for key in ("num_class", "num_tree_per_iteration"):
        if _int(header[key], key, path, None) != 1:
            raise InputError(f"{key}={header[key]}: an irkit ranker has one tree per iteration", path)
    if _int(header["max_feature_idx"], "max_feature_idx", path, None) != n_features - 1:
        raise InputError(
            f"max_feature_idx={header['max_feature_idx']}, but the model's config names {n_features} features", path
        )
    names = header.get("feature_names", "").split()
    if len(names) != n_features:
        raise InputError(f"{len(names)} feature_names, but the model's config names {n_features} features", path)
    infos = header.get("feature_infos")
    if infos is not None and len(infos.split()) != n_features:
        raise InputError(f"{len(infos.split())} feature_infos for {n_features} features", path)


def _array(tree: dict[str, str], key: str, size: int, path: Path, line: int, parse=float) -> list:
    items = tree.get(key, "").split()
    if len(items) != size:
        raise InputError(f"tree {tree['Tree']}: {key} has {len(items)} entries, {size} expected", path, line)
    try:
        values = [parse(x) for x in items]
    except (ValueError, InputError):
        raise InputError(f"tree {tree['Tree']}: {key} holds a value that is not a number", path, line) from None
    if parse is float and not all(math.isfinite(v) for v in values):
        raise InputError(f"tree {tree['Tree']}: {key} holds a value that is not finite", path, line)
    return values


def _check_tree(tree: dict[str, str], n_features: int, path: Path, line: int) -> None:
    name = f"tree {tree['Tree']}"
    leaves = _int(tree.get("num_leaves", ""), f"{name}: num_leaves", path, line)
    if not 1 <= leaves <= MAX_LEAVES:
        raise InputError(f"{name}: num_leaves={leaves} (1 to {MAX_LEAVES:,})", path, line)
    if _int(tree.get("num_cat", "0"), f"{name}: num_cat", path, line) != 0:
        raise InputError(f"{name}: categorical splits (irkit's features are numeric)", path, line)
    if _int(tree.get("is_linear", "0"), f"{name}: is_linear", path, line) != 0:
        raise InputError(f"{name}: linear leaves (irkit trains constant leaves)", path, line)
    _array(tree, "shrinkage", 1, path, line)
    _array(tree, "leaf_value", leaves, path, line)
    for key in _OPTIONAL_LEAF_ARRAYS:
        if key in tree:
            _array(tree, key, leaves, path, line)
    nodes = leaves - 1
    for key in _OPTIONAL_NODE_ARRAYS:
        if key in tree:
            _array(tree, key, nodes, path, line)
    if nodes == 0:
        for key in _NODE_ARRAYS:
            if tree.get(key, "").strip():
                raise InputError(f"{name}: a one-leaf tree with a {key}", path, line)
        return
    parse_int = lambda x: _int(x, name, path, line)  # noqa: E731
    split, _, decision, left, right = (
        _array(tree, k, nodes, path, line, parse_int if k != "threshold" else float) for k in _NODE_ARRAYS
    )
    if not all(0 <= f < n_features for f in split):
        raise InputError(f"{name}: a split on a feature outside 0..{n_features - 1}", path, line)
    # decision_type bits: 1 categorical (refused above), 2 default-left, 4-12 the missing-value type (0, 1, 2).
    if not all(0 <= d < 16 and not d & 1 and (d >> 2) & 3 != 3 for d in decision):
        raise InputError(f"{name}: a decision_type LightGBM does not write", path, line)
    # Children: k >= 0 is internal node k, ~k (negative) is leaf k. From node 0,
    # every node and every leaf must be reached exactly once (no cycle, no sharing).
    seen_nodes, seen_leaves, stack = {0}, set(), [0]
    while stack:
        node = stack.pop()
        for child in (left[node], right[node]):
            if child >= 0:
                if child >= nodes or child in seen_nodes:
                    raise InputError(f"{name}: node {node} has a child node {child} out of the tree", path, line)
                seen_nodes.add(child)
                stack.append(child)
            else:
                leaf = ~child
                if leaf >= leaves or leaf in seen_leaves:
                    raise InputError(f"{name}: node {node} has a child leaf {leaf} out of the tree", path, line)
                seen_leaves.add(leaf)
    if len(seen_nodes) != nodes or len(seen_leaves) != leaves:
        raise InputError(f"{name}: nodes or leaves that no path reaches", path, line)
