"""A repo's lineage drawn as a graph, server-side (SVG, no script): its base models above it,
by depth, and the repos derived from it below. The page also lists the same graph as text, for
screen readers and text browsers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

_BOX_W, _BOX_H = 220, 40
_GAP_X, _GAP_Y = 24, 56
_MARGIN = 12
_MAX_PER_ROW = 6


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    label: str
    row: int
    """0: the model; 1, 2…: bases by depth; -1: derivatives."""
    license: str | None = None
    status: str = "ok"


def layout(lineage: Sequence[Mapping[str, Any]], derivatives: Sequence[str]) -> list[Node]:
    """Nodes from the audit report's ``license.lineage`` (the model first, then its bases) and
    the ids of repos derived from it."""
    nodes: list[Node] = []
    for i, entry in enumerate(lineage):
        depth = int(entry.get("depth") or 0) if i else 0
        label = str(entry.get("repo_id") or entry.get("name") or entry.get("id") or "?")
        nodes.append(
            Node(
                str(entry.get("id") or label),
                label,
                depth,
                entry.get("license"),
                str(entry.get("status") or "ok"),
            )
        )
    if not nodes:
        return nodes
    nodes.extend(Node(f"derived:{d}", d, -1) for d in derivatives)
    return nodes


def edges(lineage: Sequence[Mapping[str, Any]], nodes: Sequence[Node]) -> list[tuple[str, str]]:
    """(from, to) pairs: a model to each of its bases, each derivative to the model."""
    known = {n.id for n in nodes}
    pairs = [
        (str(entry.get("id")), str(base))
        for entry in lineage
        for base in entry.get("bases") or ()
        if str(base) in known
    ]
    if nodes:
        pairs += [(n.id, nodes[0].id) for n in nodes if n.row == -1]
    return pairs


def svg(lineage: Sequence[Mapping[str, Any]], derivatives: Sequence[str], title: str) -> str:
    nodes = layout(lineage, derivatives)
    if not nodes:
        return ""
    rows: dict[int, list[Node]] = {}
    for node in nodes:
        rows.setdefault(node.row, [])
        if len(rows[node.row]) < _MAX_PER_ROW:
            rows[node.row].append(node)
    order = sorted(rows, reverse=True)  # the deepest base on top, derivatives at the bottom
    width = max(len(r) for r in rows.values()) * (_BOX_W + _GAP_X) - _GAP_X + 2 * _MARGIN
    height = len(order) * (_BOX_H + _GAP_Y) - _GAP_Y + 2 * _MARGIN
    where: dict[str, tuple[float, float]] = {}
    boxes: list[str] = []
    for level, row in enumerate(order):
        members = rows[row]
        span = len(members) * (_BOX_W + _GAP_X) - _GAP_X
        x0 = (width - span) / 2
        y = _MARGIN + level * (_BOX_H + _GAP_Y)
        for i, node in enumerate(members):
            x = x0 + i * (_BOX_W + _GAP_X)
            where[node.id] = (x, y)
            kind = "self" if row == 0 else "derived" if row < 0 else "base"
            if node.status != "ok":
                kind += " missing"
            text = node.label if len(node.label) <= 30 else node.label[:29] + "…"
            sub = node.license or ("not found" if node.status != "ok" else "no licence")
            boxes.append(
                f'<g class="node {kind}"><rect x="{x:.0f}" y="{y:.0f}" width="{_BOX_W}" '
                f'height="{_BOX_H}" rx="6"/><text x="{x + 10:.0f}" y="{y + 17:.0f}">'
                f'{escape(text)}</text><text class="sub" x="{x + 10:.0f}" y="{y + 32:.0f}">'
                f"{escape(sub)}</text></g>"
            )
    lines = []
    for source, target in edges(lineage, nodes):
        if source not in where or target not in where:
            continue
        (x1, y1), (x2, y2) = where[source], where[target]
        lines.append(
            f'<line x1="{x1 + _BOX_W / 2:.0f}" y1="{y1:.0f}" x2="{x2 + _BOX_W / 2:.0f}" '
            f'y2="{y2 + _BOX_H:.0f}" marker-end="url(#arrow)"/>'
        )
    return (
        f'<svg class="lineage" role="img" aria-labelledby="lineage-title" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" height="{height:.0f}" '
        'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="lineage-title">{escape(title)}</title>'
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z"/></marker>'
        "</defs>" + "".join(lines) + "".join(boxes) + "</svg>"
    )
