"""`cqa tokens ID… --before MODEL --after MODEL`: where in a passage the constraints help, per token.

For an item's version v (original or degraded) and its continuation tokens x_t, the per-token view is

    d_t = log p(x_t | H, Y, x<t) − log p(x_t | H, x<t)        (bits; Σ_t d_t = I(v))

computed with the task's own requests and tokenization (cqa_tasks.prompts, cqa_tasks.scoring.Reader),
once with the model before training and once after, and drawn as an HTML heat-map
(cqa_train.compare.token_heatmap_section): red where Y raised the token's probability, blue where
it lowered it, and a third row with the change after − before.
"""

from __future__ import annotations

import argparse
import html
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

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
    from cqa_train.compare import render_token_page, token_heatmap_section

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
        raise ValueError(f"item id(s) not in {source}: {', '.join(unknown)}")
    return [by_id[i] for i in ids]


def write_token_view(ids: Sequence[str], before: str, after: str, out: Path, data: str | None = None,
                     labels: tuple[str, str] | None = None, dtype: str = "float32") -> Path:
    """Score the chosen items with both models and write the heat-map page to `out`."""
    from cqa_tasks.data import BENCH_FILE, load_records
    from cqa_tasks.scoring import Reader

    source = data or BENCH_FILE
    items = _pick(load_records(source), ids, source)  # bad ids fail before any model loads
    labels = labels or (_label(before), _label(after))
    views = []
    for model in (before, after):
        reader = Reader(model, dtype=dtype, batch_size=4)
        views.append(item_views(reader, items))
        del reader
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_items(items, views[0], views[1], labels), encoding="utf-8")
    return out


def _tokens(args: argparse.Namespace) -> int:
    labels = tuple(args.labels.split(",", 1)) if args.labels else None
    if labels is not None and len(labels) != 2:
        raise ValueError("--labels takes two names separated by a comma, e.g. base,cqa_cot")
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
    p.add_argument("--dtype", default="float32")
    p.add_argument("-o", "--out", default="cqa_tokens.html", help="HTML file to write (default: %(default)s)")
    p.set_defaults(func=_tokens)
