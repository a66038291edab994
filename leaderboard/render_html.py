"""index.html: one self-contained file (inline CSS, JS and SVG) that works offline from file://.

Every string that came from a results file passes through html.escape. The Content-Security-Policy
allows only this page's own script and style (by hash) and no network at all, so even a string
that slipped through unescaped could neither run script nor load anything.
"""

from __future__ import annotations

import base64
import hashlib
from html import escape

from cqa_tasks.metric import PRIMARY_METRIC
from leaderboard.columns import BREAKDOWN, OVERVIEW, Column, model_details, view
from leaderboard.plots import PLOTS
from leaderboard.render_text import METHOD, TITLE, Provenance
from leaderboard.table import Row, Section

CSS = """
:root { --ink: #1f2933; --muted: #5f6b7a; --line: #e3e7ec; --soft: #f6f8fa; --accent: #2f6db5;
  --fact: #d9822b; --hover: #eef4fb; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif; }
main { max-width: 1560px; margin: 0 auto; padding: 28px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 6px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 40px 0 4px; padding-top: 12px; border-top: 1px solid var(--line); }
h3 { font-size: 15px; margin: 26px 0 8px; color: var(--muted); text-transform: uppercase; letter-spacing: 0.04em; }
p { margin: 6px 0; }
.lede { max-width: 920px; color: var(--muted); }
.badges { margin: 12px 0 4px; display: flex; gap: 8px; flex-wrap: wrap; }
.badge { font-size: 12.5px; padding: 2px 10px; border-radius: 999px; background: #e8f0fa; color: #1d4f8f; font-weight: 600; }
.badge.alt { background: #fdf1e6; color: #8a4a0e; }
nav ul { list-style: none; padding: 0; margin: 10px 0 0; display: flex; gap: 14px; flex-wrap: wrap; font-size: 14px; }
a { color: var(--accent); }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--soft);
  padding: 1px 5px; border-radius: 4px; word-break: break-all; }
.meta { color: var(--muted); font-size: 14px; }
.scroll { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; font-variant-numeric: tabular-nums; }
th, td { padding: 7px 9px; border-bottom: 1px solid var(--line); vertical-align: top; }
thead th { background: var(--soft); text-align: left; font-weight: 600; white-space: nowrap; }
thead tr.groups th { font-size: 11.5px; text-transform: uppercase; letter-spacing: 0.05em; color: var(--muted);
  border-bottom: none; padding-bottom: 0; }
thead tr.groups th.g { border-left: 2px solid #fff; }
th button { all: unset; cursor: pointer; display: block; width: 100%; }
th button:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
th.num, td.num { text-align: right; }
th button::after { content: " \\2195"; color: #b3bcc6; font-size: 11px; }
th[aria-sort="ascending"] button::after { content: " \\25B2"; color: var(--accent); }
th[aria-sort="descending"] button::after { content: " \\25BC"; color: var(--accent); }
tbody tr:nth-child(even) { background: #fbfcfd; }
tbody tr:hover { background: var(--hover); }
td.num { white-space: nowrap; }
.ci { display: block; color: var(--muted); font-size: 11.5px; }
td.rank { font-weight: 700; white-space: nowrap; }
/* Rank and model stay in view while a wide table scrolls sideways. */
th.rank-col, td.rank { position: sticky; left: 0; z-index: 1; width: 62px; min-width: 62px; }
th.model-col, td.model { position: sticky; left: 62px; z-index: 1; box-shadow: inset -1px 0 0 var(--line); }
td.rank, td.model { background: inherit; }
tbody tr { background: #fff; }
thead tr.groups th:nth-child(1) { position: sticky; left: 0; z-index: 1; }
td.rank .tie { font-weight: 400; color: var(--muted); font-size: 11.5px; display: block; }
td.model { min-width: 200px; max-width: 300px; }
td.model .name { font-weight: 600; word-break: break-word; }
td.model .args { color: var(--muted); font: 11.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  word-break: break-all; }
td.main { background: rgba(47, 109, 181, 0.06); font-weight: 600; }
td.missing { color: #aab3bd; }
.partial { color: var(--fact); font-weight: 700; cursor: help; }
.plots { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
figure { margin: 0; padding: 12px; border: 1px solid var(--line); border-radius: 8px; max-width: 100%; }
figure svg { max-width: 100%; height: auto; display: block; }
/* width 0 + min-width 100%: the caption wraps to the plot's width instead of widening the figure. */
figcaption { font-size: 13px; color: var(--muted); margin-top: 6px; width: 0; min-width: 100%; }
.method { max-width: 920px; }
.method li { margin: 4px 0; }
footer { margin-top: 40px; padding-top: 12px; border-top: 1px solid var(--line); color: var(--muted); font-size: 13px; }
footer li { word-break: break-word; }
.warn { color: #9a3412; }
"""

JS = """
(function () {
  "use strict";
  function key(cell, numeric) {
    var v = cell ? cell.getAttribute("data-v") : null;
    if (v === null || v === "") return null;
    if (!numeric) return v;
    var x = parseFloat(v);
    return isNaN(x) ? null : x;
  }
  function sortBy(table, th) {
    var col = th.cellIndex;
    var numeric = th.getAttribute("data-type") === "num";
    var current = th.getAttribute("aria-sort");
    var dir = current ? (current === "ascending" ? "descending" : "ascending")
                      : (th.getAttribute("data-first") === "desc" ? "descending" : "ascending");
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var ka = key(a.cells[col], numeric), kb = key(b.cells[col], numeric);
      var ia = +a.getAttribute("data-i"), ib = +b.getAttribute("data-i");
      if (ka === null || kb === null) {  // missing values go last in either direction
        return ka === kb ? ia - ib : (ka === null ? 1 : -1);
      }
      var c = ka < kb ? -1 : (ka > kb ? 1 : 0);
      if (dir === "descending") c = -c;
      return c || ia - ib;  // ties keep the leaderboard order
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(table.querySelectorAll("th[aria-sort]"), function (h) {
      h.removeAttribute("aria-sort");
    });
    th.setAttribute("aria-sort", dir);
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.querySelectorAll("thead tr.cols th"), function (th) {
      var button = th.querySelector("button");
      if (button) button.addEventListener("click", function () { sortBy(table, th); });
    });
  });
})();
"""

OVERVIEW_GROUPS = [("", 2), ("Literary", 3), ("Literary · surprise strata", 4), ("Literary · controls", 3),
                   ("Factual control", 3), ("Literary baselines", 3), ("Reads Y", 1), ("Pairs", 2), ("Run", 5)]  # fmt: skip
BREAKDOWN_GROUPS = [
    ("", 2),
    ("ethos", 2),
    ("mythos", 2),
    ("lexis", 2),
    ("dianoia", 2),
    ("English", 2),
    ("Chinese", 2),
]


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _sort_attr(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return escape(value)
    return repr(float(value))


def _th(column: Column) -> str:
    numeric = column.numeric
    first = "asc" if column.kind in ("rank", "model", "text") else "desc"
    klass = {"rank": ' class="rank-col"', "model": ' class="model-col"'}.get(column.kind, "")
    if numeric and column.kind != "rank":
        klass = ' class="num"'
    return (
        f'<th scope="col"{klass} data-type="{"num" if numeric else "text"}" data-first="{first}" '
        f'title="{escape(column.title)}"><button type="button">{escape(column.short or column.header)}</button></th>'
    )


def _td(row: Row, column: Column, section: Section) -> str:
    v = view(row, column, section)
    data_v = _sort_attr(v.sort)
    if column.kind == "rank":
        tie = '<span class="tie">tied</span>' if row.rank and row.rank[0] != row.rank[1] else ""
        title = "95 % intervals overlap with other models" if tie else ""
        return f'<td class="rank" data-v="{data_v}" title="{title}">{escape(v.text)}{tie}</td>'
    if column.kind == "model":
        run = row.run
        tip = f"results file: {run.label}"
        return (
            f'<td class="model" data-v="{data_v}" title="{escape(tip)}"><div class="name">{escape(v.text)}</div>'
            f'<div class="args">{escape(model_details(run))}</div></td>'
        )
    classes = ["num"] if column.numeric else []
    if v.sort is None:
        classes.append("missing")
    if column.cell == "literary" and column.metric == PRIMARY_METRIC:
        classes.append("main")
    ci = f'<span class="ci">{escape(v.ci)}</span>' if v.ci else ""
    mark = f'<sup class="partial" title="{escape(v.note)}">†</sup>' if v.note.startswith("partial") else ""
    klass = f' class="{" ".join(classes)}"' if classes else ""
    return f'<td{klass} data-v="{data_v}">{escape(v.text)}{mark}{ci}</td>'


def _table(section: Section, columns: list[Column], groups: list[tuple[str, int]], caption: str) -> str:
    group_row = "".join(
        f'<th colspan="{span}" class="g">{escape(name)}</th>' if name else f'<th colspan="{span}"></th>'
        for name, span in groups
    )
    head = "".join(_th(c) for c in columns)
    body = "".join(
        f'<tr data-i="{i}">' + "".join(_td(row, c, section) for c in columns) + "</tr>"
        for i, row in enumerate(section.rows)
    )
    return (
        f'<div class="scroll"><table class="sortable"><caption hidden>{escape(caption)}</caption>'
        f'<thead><tr class="groups">{group_row}</tr><tr class="cols">{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )


def _surprise_link(link: tuple[str, list[tuple[str, str]]] | None) -> str:
    if not link:
        return ""
    name, captions = link
    items = "".join(f"<li><b>{escape(label)}</b>: {escape(text)}</li>" for label, text in captions)
    return (
        f'<p><a href="{escape(name)}">ΔI against S(original) − S(twin), item by item (PNG)</a>: does the pair '
        "score follow which version is more surprising? A score that measured constraint fit alone would "
        f"give a flat cloud (docs/metric.md).</p><ul>{items}</ul>"
    )


def _section(section: Section, plots: dict[str, str], surprise: tuple[str, list[tuple[str, str]]] | None = None) -> str:
    files = ", ".join(section.data_files)
    superseded = ""
    if section.superseded:
        items = "".join(
            f"<li><code>{escape(r.label)}</code> ({escape(r.date_text)})</li>" for r in section.superseded
        )
        superseded = f"<details><summary>Older runs of the same models, not shown ({len(section.superseded)})</summary><ul>{items}</ul></details>"
    captions = {
        "delta_i": "Mean ΔI in bits with 95 % intervals. Right of the dashed zero line, the model finds the original "
        "more informative about its constraints than the degraded twin.",
        "heatmap": "Literary pair accuracy by dimension (both languages pooled). Orange: below chance (0.5); blue: above.",
        "scatter": "Each point is a model; bars are 95 % intervals. Points above the dotted diagonal do better on the "
        "factual control than on literary pairs.",
    }
    figures = "".join(
        f"<figure>{plots[name]}<figcaption>{escape(captions[name])}</figcaption></figure>" for name in plots
    )
    return (
        f'<section id="{escape(section.slug)}"><h2>{escape(section.title)}</h2>'
        f'<p class="meta">Data file <code>{escape(files)}</code> · sha256 <code>{escape(section.data_sha256)}</code> · '
        f"benchmark version {escape(section.bench_version)} · {len(section.rows)} model(s). "
        f'<span class="partial">†</span> marks a cell the run covered only in part.</p>'
        f"<h3>Overview</h3>{_table(section, OVERVIEW, OVERVIEW_GROUPS, 'Overview ' + section.title)}"
        f"<h3>Literary by dimension and language</h3>"
        f"{_table(section, BREAKDOWN, BREAKDOWN_GROUPS, 'Breakdown ' + section.title)}"
        f'<h3>Plots</h3><div class="plots">{figures}</div>{_surprise_link(surprise)}{superseded}</section>'
    )


def _meta_eval_link(href: str | None) -> str:
    if not href:
        return ""
    return (
        f'<p class="lede"><a href="{escape(href)}">Agreement with human judgments</a> (<code>cqa meta-eval</code>): '
        "how well each score, and length and perplexity beside it, agrees with people's ratings and preferences.</p>"
    )


def section_plots(section: Section) -> dict[str, str]:
    return {name: fn(section) for name, fn in PLOTS.items()}


def to_html(
    sections: list[Section],
    prov: Provenance,
    plots: dict[str, dict[str, str]] | None = None,
    surprise: dict[str, tuple[str, list[tuple[str, str]]]] | None = None,
    meta_eval: str | None = None,
) -> str:
    """The page; `meta_eval` is the relative link to a `cqa meta-eval` report beside it, if there is one."""
    surprise = surprise or {}
    plots = plots or {s.slug: section_plots(s) for s in sections}
    hashes = ", ".join(f"<code>{escape(s.short_hash)}</code> (v{escape(s.bench_version)})" for s in sections)
    nav = ""
    if len(sections) > 1:
        nav = (
            "<nav><ul>"
            + "".join(f'<li><a href="#{escape(s.slug)}">{escape(s.title)}</a></li>' for s in sections)
            + "</ul></nav>"
        )
    skipped = "".join(
        f'<li class="warn"><code>{escape(label)}</code>: {escape(reason)}</li>'
        for label, reason in prov.skipped
    )
    notes = "".join(f"<li><code>{escape(label)}</code>: {escape(msg)}</li>" for label, msg in prov.notes)
    read = "".join(f"<li><code>{escape(label)}</code></li>" for label in prov.files_read)
    csp = (
        f"default-src 'none'; script-src {_csp_hash(JS)}; style-src {_csp_hash(CSS)}; "
        "img-src data:; base-uri 'none'; form-action 'none'"
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(TITLE)}</title><style>{CSS}</style></head><body><main>"
        f"<header><h1>{escape(TITLE)}</h1>"
        '<div class="badges"><span class="badge">deterministic</span><span class="badge">judge-free</span>'
        '<span class="badge alt">offline · no external resources</span></div>'
        f'<p class="lede">How strongly does a model prefer a literary passage to a subtly degraded twin, '
        f"measured as pointwise mutual information with the passage's constraints? Data hash: {hashes}. "
        "Click any column header to sort.</p>"
        f"{nav}{_meta_eval_link(meta_eval)}</header>"
        + "".join(_section(s, plots[s.slug], surprise.get(s.slug)) for s in sections)
        + '<section class="method"><h2>How to read this page</h2><ul>'
        f"<li>{escape(METHOD)}</li>"
        "<li>One row per model identity: the backend plus the full normalized model arguments (weights, adapter, "
        "dtype, add_bos_token, …). Only the latest run of each identity is shown.</li>"
        "<li>Runs on different benchmark versions or data hashes are separate tables and are never mixed.</li>"
        "<li>Baselines: <b>cond-only</b> picks the version with the higher log-likelihood given the constraints; "
        "<b>perplexity</b> picks the lower-perplexity version; <b>overlap</b> uses no model at all, only words "
        "shared with the constraints.</li></ul></section>"
        f"<footer><p>Built by <code>cqa leaderboard</code> from {len(prov.files_read)} results file(s).</p>"
        + (f"<p>Skipped {len(prov.skipped)} file(s):</p><ul>{skipped}</ul>" if prov.skipped else "")
        + (f"<p>Notes on files that were used:</p><ul>{notes}</ul>" if prov.notes else "")
        + f"<details><summary>Results files read</summary><ul>{read}</ul></details></footer>"
        f"</main><script>{JS}</script></body></html>\n"
    )
