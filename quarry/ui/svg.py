"""SVG drawings for the UI: a DAG (a job's stages, a query's operators) and a timeline of tasks.

All text goes through :func:`html.escape`. Layout is simple and deterministic: a node's layer is
the longest path to it from a source, data flows top to bottom, and each layer is ordered by the
mean position of its nodes' inputs (one pass of the barycenter heuristic), which is enough for
the trees and near-trees query plans are.
"""

from __future__ import annotations

from html import escape

PALETTE = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#edc948", "#9c755f", "#ff9da7")
CHAR_W = 6.6          # px per character of 11px monospace text
LINE_H = 15
MAX_CHARS = 46


def stage_color(index: int) -> str:
    return PALETTE[index % len(PALETTE)]


def _clip(text: str, limit: int = MAX_CHARS) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def dag(nodes: list[dict], edges: list[tuple], css_class: str = "dag") -> str:
    """An SVG of ``nodes`` (``{"id", "lines": [str], "color", "href"?, "title"?}``) and ``edges``
    (``(from id, to id, label or None)``), sources at the top."""
    if not nodes:
        return ""
    ids = [n["id"] for n in nodes]
    by_id = {n["id"]: n for n in nodes}
    preds: dict = {i: [] for i in ids}
    for a, b, _ in edges:
        if a in by_id and b in by_id:
            preds[b].append(a)
    layer: dict = {}

    def depth(i):
        if i not in layer:
            layer[i] = -1                      # on the path: an edge back here (no DAG) is ignored
            inputs = [depth(p) for p in preds[i] if layer.get(p) != -1]
            layer[i] = 1 + max(inputs) if inputs else 0
        return layer[i]

    for i in ids:
        depth(i)
    layers: dict[int, list] = {}
    for i in ids:
        layers.setdefault(layer[i], []).append(i)
    size = {}
    for n in nodes:
        lines = [_clip(t) for t in n["lines"]]
        n["_lines"] = lines
        size[n["id"]] = (max(len(t) for t in lines) * CHAR_W + 16, len(lines) * LINE_H + 10)
    pos: dict = {}
    y = 10.0
    width = 0.0
    for depth_ in sorted(layers):
        row = layers[depth_]
        if depth_ > 0:         # order by where the inputs are
            row.sort(key=lambda i: sum(pos[p][0] for p in preds[i]) / len(preds[i]) if preds[i] else 0)
        x = 10.0
        for i in row:
            w, h = size[i]
            pos[i] = (x + w / 2, y)
            x += w + 24
        width = max(width, x)
        y += max(size[i][1] for i in row) + 46
    height = y - 36
    # centre narrower layers under the widest
    for depth_, row in layers.items():
        last = row[-1]
        row_w = pos[last][0] + size[last][0] / 2 + 24 - 10
        shift = (width - 10 - row_w) / 2
        for i in row:
            pos[i] = (pos[i][0] + shift, pos[i][1])
    out = [f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
           f'viewBox="0 0 {width:.0f} {height:.0f}">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#777"/></marker></defs>']
    for a, b, label in edges:
        if a not in pos or b not in pos:
            continue
        x1, y1 = pos[a][0], pos[a][1] + size[a][1]
        x2, y2 = pos[b][0], pos[b][1]
        mid = (y1 + y2) / 2
        out.append(f'<path class="edge" d="M {x1:.1f} {y1:.1f} C {x1:.1f} {mid:.1f} {x2:.1f} {mid:.1f} {x2:.1f} '
                   f'{y2 - 2:.1f}" fill="none" stroke="#777" stroke-width="1.3" marker-end="url(#arrow)"/>')
        if label:
            out.append(f'<text class="edge-label" x="{(x1 + x2) / 2 + 4:.1f}" y="{mid + 4:.1f}" font-size="10" '
                       f'fill="#a33">{escape(label)}</text>')
    for n in nodes:
        i = n["id"]
        cx, top = pos[i]
        w, h = size[i]
        x = cx - w / 2
        box = [f'<g class="node" data-id="{escape(str(i))}">']
        if n.get("title"):
            box.append(f"<title>{escape(n['title'])}</title>")
        box.append(f'<rect x="{x:.1f}" y="{top:.1f}" width="{w:.1f}" height="{h:.1f}" rx="4" fill="#fff" '
                   f'stroke="{n.get("color", "#4e79a7")}" stroke-width="2"/>')
        for k, line in enumerate(n["_lines"]):
            weight = ' font-weight="bold"' if k == 0 else ""
            box.append(f'<text x="{x + 8:.1f}" y="{top + 17 + k * LINE_H:.1f}" font-size="11" '
                       f'font-family="monospace"{weight} fill="#222">{escape(line)}</text>')
        box.append("</g>")
        if n.get("href"):
            box = [f'<a href="{escape(n["href"])}">'] + box + ["</a>"]
        out.extend(box)
    out.append("</svg>")
    return "\n".join(out)


def timeline(start: float, end: float, rows: list[tuple[str, list[dict]]]) -> str:
    """An SVG timeline: one row per ``(label, bars)``; a bar is ``{"start", "end", "color", "title",
    "failed"?}`` in epoch ms between ``start`` and ``end``."""
    span = max(end - start, 1.0)
    left, width, row_h = 110, 760, 18
    height = 24 + row_h * len(rows)
    out = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{left + width + 10}" '
           f'height="{height}" viewBox="0 0 {left + width + 10} {height}">']
    for k in range(6):
        x = left + width * k / 5
        out.append(f'<line x1="{x:.1f}" y1="14" x2="{x:.1f}" y2="{height}" stroke="#ddd"/>')
        out.append(f'<text x="{x:.1f}" y="10" font-size="9" text-anchor="middle" fill="#666">'
                   f'{span * k / 5 / 1000:.2f}s</text>')
    for r, (label, bars) in enumerate(rows):
        y = 16 + r * row_h
        out.append(f'<text x="4" y="{y + 12}" font-size="11" fill="#333">{escape(_clip(label, 16))}</text>')
        for bar in bars:
            x1 = left + width * (max(bar["start"], start) - start) / span
            x2 = left + width * (min(bar["end"], end) - start) / span
            fill = "#d62728" if bar.get("failed") else bar["color"]
            out.append(f'<rect class="bar{" failed" if bar.get("failed") else ""}" x="{x1:.1f}" y="{y + 2}" '
                       f'width="{max(x2 - x1, 1.5):.1f}" height="{row_h - 5}" fill="{fill}" opacity="0.85">'
                       f'<title>{escape(bar["title"])}</title></rect>')
    out.append("</svg>")
    return "\n".join(out)
