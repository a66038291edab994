"""How an item becomes text for a causal LM (pure functions).

Both requests for a version end their context with the same short header H and score the same
continuation string, so the continuation tokens are identical with and without Y, whatever the
tokenizer's BOS handling (tested for the embedded tokenizer in en and zh). The header's newline is
given to the continuation explicitly, as lm-eval's `_encode_pair` would move it there anyway; the
newline's log-prob is therefore part of both ll_c and ll_u.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

HEADER = {"en": "Passage:", "zh": "正文："}
PREAMBLE = {"en": "Constraints on the passage below.", "zh": "下文须满足的约束。"}
LABELS = {
    "en": {"intent": "Author's intent", "audience": "Audience", "reality": "Reality"},
    "zh": {"intent": "作者意图", "audience": "读者", "reality": "现实逻辑"},
}
_SEP = {"en": ": ", "zh": "："}
CONTINUATION_PREFIX = "\n"


def render_constraints(constraints: Mapping[str, str], lang: str) -> str:
    """Y as text: a neutral preamble, then one labelled line per constraint, then a blank line."""
    labels, sep = LABELS[lang], _SEP[lang]
    lines = [PREAMBLE[lang]] + [f"{labels[k]}{sep}{constraints[k].strip()}" for k in ("intent", "audience", "reality")]
    return "\n".join(lines) + "\n\n"


def conditional_context(constraints: Mapping[str, str], lang: str) -> str:
    return render_constraints(constraints, lang) + HEADER[lang]


def unconditional_context(lang: str) -> str:
    return HEADER[lang]


def continuation(passage: str) -> str:
    return CONTINUATION_PREFIX + passage.strip()


def with_foreign_constraints(records: Sequence[Mapping]) -> list[dict]:
    """Each record with `foreign_id` and `foreign_constraints`: the constraints Y' of another item.

    Fixed and deterministic: within each (group, lang) block, sorted by id, item k borrows the
    constraints of item k + n//2 (mod n), a far-away item rather than a neighbour. An item alone in
    its block gets None for both. The pairing depends on the whole file, never on a task's slice.
    """
    blocks: dict[tuple[str, str], list[Mapping]] = {}
    for r in sorted(records, key=lambda r: r["id"]):
        blocks.setdefault((r["group"], r["lang"]), []).append(r)
    foreign: dict[str, Mapping | None] = {}
    for block in blocks.values():
        n = len(block)
        for k, r in enumerate(block):
            foreign[r["id"]] = block[(k + max(1, n // 2)) % n] if n > 1 else None
    out = []
    for r in records:
        f = foreign[r["id"]]
        out.append(dict(r) | {"foreign_id": f and f["id"], "foreign_constraints": f and dict(f["constraints"])})
    return out


def pair_requests(item: Mapping) -> list[tuple[str, str]]:
    """The (context, continuation) requests of an item, in the order the metric expects:
    original | Y, original, degraded | Y, degraded, and where the item has a foreign Y':
    original | Y', degraded | Y'."""
    lang = item["lang"]
    cond, uncond = conditional_context(item["constraints"], lang), unconditional_context(lang)
    x_o, x_d = continuation(item["original"]), continuation(item["degraded"])
    requests = [(cond, x_o), (uncond, x_o), (cond, x_d), (uncond, x_d)]
    if item.get("foreign_constraints"):
        foreign = conditional_context(item["foreign_constraints"], lang)
        requests += [(foreign, x_o), (foreign, x_d)]
    return requests
