"""The audit as one self-contained HTML page, for people and for the audit record.

Inline CSS and inline SVG only: no JavaScript, nothing fetched from a CDN, so the file opens
offline and can be attached as it is. It shows the verdict and its reasons, every finding with the
policy's outcome, the licence obligations checklist, the lineage drawn as a graph (the model at
the top, its bases below, each edge labelled with the relation), documentation coverage bars per
standard, and, when fairness data was given, per-group rate bars with their intervals (the same
geometry as ``modeltrust fairness -f html``).

Geometry is computed here; the Jinja2 template (autoescaping on, strict undefined) only places it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from modeltrust.auditor.result import AuditResult

NODE_W = 220
NODE_H = 46
COL_GAP = 30
ROW_GAP = 54
MARGIN = 16
BAR_W = 320
_STATUS_CLASS = {"ok": "ok"}


@dataclass(frozen=True, slots=True)
class GraphNode:
    key: str
    x: float
    y: float
    title: str
    subtitle: str
    css: str
    tooltip: str


@dataclass(frozen=True, slots=True)
class GraphEdge:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str


@dataclass(frozen=True, slots=True)
class Graph:
    width: float
    height: float
    nodes: tuple[GraphNode, ...]
    edges: tuple[GraphEdge, ...]


def lineage_graph(result: AuditResult) -> Graph:
    """Nodes in rows by depth (the model itself in row 0); an edge from each model to each base."""
    lineage = result.license.lineage
    rows: dict[int, list[Any]] = {}
    for node in lineage.nodes:
        rows.setdefault(node.depth, []).append(node)
    widest = max(len(r) for r in rows.values())
    width: float = MARGIN * 2 + widest * NODE_W + (widest - 1) * COL_GAP
    height = MARGIN * 2 + len(rows) * NODE_H + (len(rows) - 1) * ROW_GAP
    placed: dict[str, tuple[float, float]] = {}
    nodes = []
    for depth in sorted(rows):
        row = rows[depth]
        span = len(row) * NODE_W + (len(row) - 1) * COL_GAP
        left = (width - span) / 2
        y = MARGIN + depth * (NODE_H + ROW_GAP)
        for i, node in enumerate(row):
            x = left + i * (NODE_W + COL_GAP)
            placed[node.key] = (x, y)
            found = result.license.licenses.get(node.key)
            licences = ", ".join(found.ids) if found and found.ids else "no licence identified"
            status = node.status if node.status == "ok" else f"{node.status}"
            nodes.append(
                GraphNode(
                    key=node.key,
                    x=x,
                    y=y,
                    title=_cut(node.repo_id or node.name, 30),
                    subtitle=_cut(licences if node.status == "ok" else status, 34),
                    css="root" if depth == 0 else _STATUS_CLASS.get(node.status, "missing"),
                    tooltip=f"{node.display}: {licences}"
                    + (f" ({node.message})" if node.message else ""),
                )
            )
    edges = []
    for node in lineage.nodes:
        nx, ny = placed[node.key]
        for base_key in node.bases:
            if base_key not in placed:
                continue
            bx, by = placed[base_key]
            base = lineage.node(base_key)
            edges.append(
                GraphEdge(
                    nx + NODE_W / 2, ny + NODE_H, bx + NODE_W / 2, by, base.relation or "base"
                )
            )
    return Graph(width, height, tuple(nodes), tuple(edges))


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def render_audit_html(result: AuditResult) -> str:
    import jinja2

    source = (files("modeltrust.report") / "templates" / "audit.html.j2").read_text("utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    template = env.from_string(source)
    charts: list[Any] = []
    if result.fairness is not None:
        from modeltrust.fairness.html import CHART_RATES, chart

        charts = [
            (c.positive, chart(result.fairness, c, rate, title))
            for c in result.fairness.classes
            for rate, title in CHART_RATES[:3]
        ]
    order = {"fail": 0, "warn": 1, "waived": 2, "pass": 3}
    decisions = sorted(
        result.evaluation.decisions,
        key=lambda d: (order[d.outcome], -d.finding.severity, d.finding.rule_id),
    )
    return template.render(
        r=result,
        verdict=result.verdict,
        decisions=decisions,
        graph=lineage_graph(result),
        node_w=NODE_W,
        node_h=NODE_H,
        bar_w=BAR_W,
        coverage=result.documentation.scores,
        charts=charts,
        fairness=result.fairness,
    )
