"""`cqa tokens ID… --before MODEL --after MODEL`: where in a passage the constraints help, per token.

For an item's version v (original or degraded) and its continuation tokens x_t, the per-token view is

    d_t = log p(x_t | H, Y, x<t) − log p(x_t | H, x<t)        (bits; Σ_t d_t = I(v))

computed with the task's own requests and tokenization (cqa_tasks.prompts, cqa_tasks.scoring.Reader),
once with the model before training and once after, and drawn as an HTML heat-map
(token_heatmap_section below): red where Y raised the token's probability, blue where
it lowered it, and a third row with the change after − before.
"""

from __future__ import annotations

import argparse
import html
import math
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from cqa_tasks.metric import LN2  # nats -> bits, as for I itself

VERSIONS = ("original", "degraded")


def token_spans(decode, ids: Sequence[int]) -> list[tuple[str, list[int]]]:
    """Tokens grouped into spans that decode to whole characters, with the token indices of each.

    Byte-level tokenizers split one CJK character over several tokens; each token alone decodes to
    U+FFFD. Spans are cut where the decoded prefix ends on a whole character; text is read off the
    decoded prefix, so a tokenizer that drops a leading space when decoding one token alone does
    not lose it here.
    """
    spans: list[tuple[str, list[int]]] = []
    start, done = 0, ""
    for end in range(1, len(ids) + 1):
        text = decode(list(ids[:end]))
        if text.endswith("\ufffd") and end < len(ids):
            continue  # an unfinished character: the next token completes it
        piece = text[len(done) :] if text.startswith(done) else decode(list(ids[start:end]))
        spans.append((piece, list(range(start, end))))
        start, done = end, text
    return spans


def per_token_bits(
    cond: tuple[Sequence[int], Sequence[float]], uncond: tuple[Sequence[int], Sequence[float]], decode
) -> list[tuple[str, float]]:
    """(text, d in bits) per span from the conditional and unconditional token log-probs of one version."""
    (ids_c, lp_c), (ids_u, lp_u) = cond, uncond
    if list(ids_c) != list(ids_u):
        raise ValueError("the continuation tokenizes differently with and without Y; per-token values would not align")
    return [(text, sum(lp_c[k] - lp_u[k] for k in idx) / LN2) for text, idx in token_spans(decode, ids_c)]


# ---------------------------------------------------------------------------------------------- HTML heat map


TOKEN_VIEW_TITLE = "Per-token Δ log p: log p(x_t | H, Y, x<t) − log p(x_t | H, x<t)"


def _cell_style(value: float, scale: float) -> str:
    if not math.isfinite(value):
        return "background:#ddd"
    a = 0.0 if scale == 0 else min(1.0, abs(value) / scale)
    # red: the context raised log p of the token; blue: lowered it
    rgb = "214,39,40" if value > 0 else "31,119,180"
    return f"background:rgba({rgb},{a:.3f})"


def _token_row(tokens: Sequence[tuple[str, float]], scale: float, unit: str) -> str:
    spans = []
    for text, value in tokens:
        v = float(value)
        tip = f"{v:+.3f} {unit}" if math.isfinite(v) else "n/a"
        spans.append(
            f'<span style="{_cell_style(v, scale)}" title="{html.escape(tip)}">{html.escape(str(text))}</span>'
        )
    return "".join(spans)


def token_heatmap_section(
    before: Sequence[tuple[str, float]],
    after: Sequence[tuple[str, float]],
    *,
    title: str = TOKEN_VIEW_TITLE,
    labels: tuple[str, str] = ("before training", "after training"),
    unit: str = "nats",
) -> str:
    """One passage before and after training, as an HTML fragment (pure: no model, no I/O).

    Each token is an escaped <span> coloured by the sign of its value (red > 0, blue < 0), opacity by
    |value| on one scale shared by both rows so they can be compared. When both lists tokenize the
    passage identically, a third row shows the change (after − before).
    """
    rows = [(labels[0], list(before)), (labels[1], list(after))]
    for name, toks in rows:
        for t in toks:
            if len(t) != 2:
                raise ValueError(f"{name}: each token must be (text, delta_logprob), got {t!r}")
    finite = [abs(float(v)) for _, toks in rows for _, v in toks if math.isfinite(float(v))]
    scale = max(finite, default=0.0)
    body = [f"<h3>{html.escape(title)}</h3>"]
    body.append(
        f'<p class="legend"><span style="{_cell_style(1, 1)}">&nbsp;raised&nbsp;</span> '
        f'<span style="{_cell_style(-1, 1)}">&nbsp;lowered&nbsp;</span> '
        f"full colour = {scale:.3f} {html.escape(unit)}; hover a token for its value</p>"
    )
    for name, toks in rows:
        body.append(
            f'<div class="row"><div class="label">{html.escape(name)}</div><div class="text">{_token_row(toks, scale, unit)}</div></div>'
        )
    if [t for t, _ in before] == [t for t, _ in after] and before:
        change = [(t, float(a) - float(b)) for (t, b), (_, a) in zip(before, after, strict=True)]
        c_scale = max((abs(v) for _, v in change if math.isfinite(v)), default=0.0)
        body.append(
            f'<div class="row"><div class="label">change ({html.escape(labels[1])} − {html.escape(labels[0])}); '
            f"full colour = {c_scale:.3f} {html.escape(unit)}</div>"
            f'<div class="text">{_token_row(change, c_scale, unit)}</div></div>'
        )
    return "<section>\n" + "\n".join(body) + "\n</section>"


def render_token_page(sections: Sequence[str], title: str, intro: str = "") -> str:
    """A self-contained HTML page around fragments from `token_heatmap_section` (`intro` is escaped)."""
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:1em auto}"
        ".row{margin:1em 0}.label{font-size:80%;color:#555}"
        ".text{white-space:pre-wrap;line-height:1.7;font-family:serif}"
        ".legend{font-size:80%}section{border-top:1px solid #ccc;margin-top:1.5em}"
    )
    head = f"<h2>{html.escape(title)}</h2>\n" + (f"<p>{html.escape(intro)}</p>\n" if intro else "")
    return (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>'
        + html.escape(title)
        + f"</title><style>{style}</style></head><body>\n"
        + head
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def render_token_heatmap(before: Sequence[tuple[str, float]], after: Sequence[tuple[str, float]], **options: Any) -> str:
    """Self-contained HTML heat-map of one passage; `options` as for `token_heatmap_section`."""
    title = options.get("title", TOKEN_VIEW_TITLE)
    return render_token_page([token_heatmap_section(before, after, **options)], title)


def item_views(reader, items: Sequence[Mapping]) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """{item id: {version: [(text, d bits), …]}} for each item, from one Reader (four requests an item)."""
    from cqa_tasks import prompts

    requests = [r for item in items for r in prompts.pair_requests(item)]
    scored = reader.token_logprobs(requests)
    decode = reader.tokenizer.decode
    out: dict[str, dict[str, list[tuple[str, float]]]] = {}
    for k, item in enumerate(items):
        c_o, u_o, c_d, u_d = scored[4 * k : 4 * k + 4]
        out[item["id"]] = {"original": per_token_bits(c_o, u_o, decode), "degraded": per_token_bits(c_d, u_d, decode)}
    return out


def render_items(
    items: Sequence[Mapping],
    before: Mapping[str, Mapping[str, list[tuple[str, float]]]],
    after: Mapping[str, Mapping[str, list[tuple[str, float]]]],
    labels: tuple[str, str],
) -> str:
    """One page: per item, a heat-map for the original and one for the degraded twin."""

    sections = []
    for item in items:
        i_b = {v: sum(d for _, d in before[item["id"]][v]) for v in VERSIONS}
        i_a = {v: sum(d for _, d in after[item["id"]][v]) for v in VERSIONS}
        for v in VERSIONS:
            title = (f"{item['id']} ({item['group']}, {item['lang']}, {item['dimension']}) — {v}: "
                     f"I = {i_b[v]:+.2f} → {i_a[v]:+.2f} bits")
            sections.append(token_heatmap_section(before[item["id"]][v], after[item["id"]][v], title=title, labels=labels, unit="bits"))
        delta_b, delta_a = i_b["original"] - i_b["degraded"], i_a["original"] - i_a["degraded"]
        sections.append(f"<p>ΔI = I(original) − I(degraded): {delta_b:+.2f} → {delta_a:+.2f} bits; "
                        f"Δ(ΔI) = {delta_a - delta_b:+.2f} bits. What the twin breaks: "
                        f"{html.escape(item.get('degradation', ''))}</p>")
    intro = ("d_t = log2 p(x_t | H, Y, x<t) − log2 p(x_t | H, x<t) for each token of the passage; "
             "its sum over the passage is I(x; Y).")
    return render_token_page(sections, f"Per-token calibrated surprise: {labels[0]} vs {labels[1]}", intro)


def _label(model: str) -> str:
    path = Path(model)  # RUN/epoch-K/merged reads better as RUN-name/epoch-K
    return f"{path.parent.parent.name}/{path.parent.name}" if path.name in ("merged", "adapter") else path.name


def _pick(records: Sequence[Mapping], ids: Sequence[str], source: str) -> list[Mapping]:
    by_id = {r["id"]: r for r in records}
    unknown = [i for i in ids if i not in by_id]
    if unknown:
        from cqa_tasks.checks import InputError, Issue

        raise InputError([Issue(str(source), f"item id(s) not in the file: {', '.join(unknown)}")])
    return [by_id[i] for i in ids]


def write_token_view(ids: Sequence[str], before: str, after: str, out: Path, data: str | None = None,
                     labels: tuple[str, str] | None = None, dtype: str = "float32") -> Path:
    """Score the chosen items with both models and write the heat-map page to `out` (atomically).
    Every problem of the models, data, ids and `out` is raised together before a model loads."""
    from cqa_tasks.atomic import write_text
    from cqa_tasks.checks import attempt, output_file, raise_if
    from cqa_tasks.data import BENCH_FILE, load_records
    from cqa_tasks.reader_cache import reader_issues, resolve_reader
    from cqa_tasks.scoring import Reader

    source = data or BENCH_FILE
    issues = reader_issues(before, "--before") + reader_issues(after, "--after") + output_file(out, "-o")
    records = attempt(issues, load_records, source)
    items = attempt(issues, _pick, records, ids, source) if records is not None else None
    raise_if(issues)
    labels = labels or (_label(before), _label(after))
    views = []
    for model in (before, after):
        reader = Reader(str(resolve_reader(model)), dtype=dtype, batch_size=4)
        views.append(item_views(reader, items))
        del reader
    return write_text(out, render_items(items, views[0], views[1], labels))


def _tokens(args: argparse.Namespace) -> int:
    from cqa_tasks.checks import InputError, usage

    labels = tuple(args.labels.split(",", 1)) if args.labels is not None else None
    if labels is not None and (len(labels) != 2 or not all(name.strip() for name in labels)):
        raise InputError([usage("--labels", "takes two names separated by a comma, e.g. base,cqa_cot")])
    out = write_token_view(args.ids, args.before, args.after, Path(args.out), args.data, labels, args.dtype)
    print(f"cqa tokens: {out}", file=sys.stderr)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tokens", help="per-token heat-map of I(x; Y) for chosen items, before vs after training",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ids", nargs="+", metavar="ID", help="item ids (e.g. lit-en-ethos-0001)")
    p.add_argument("--before", required=True, metavar="MODEL", help="HF model dir before training (e.g. the base)")
    p.add_argument("--after", required=True, metavar="MODEL", help="HF model dir after training (e.g. RUN/epoch-5/merged)")
    p.add_argument("--data", help="CQA JSONL file holding the items (default: the shipped CQA-Bench)")
    p.add_argument("--labels", help="two row names, comma-separated (default: the model dir names)")
    p.add_argument("--dtype", default="float32", choices=("float32", "bfloat16", "float16"))
    p.add_argument("-o", "--out", default="cqa_tokens.html", help="HTML file to write (default: %(default)s)")
    p.set_defaults(func=_tokens)
