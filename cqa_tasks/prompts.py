"""How an item becomes text for a causal LM (pure functions).

Both requests for a version end their context with the same short header H and score the same
continuation string, so the continuation tokens are identical with and without Y, whatever the
tokenizer's BOS handling (tested for the embedded tokenizer in en and zh). The header's newline is
given to the continuation explicitly, as lm-eval's `_encode_pair` would move it there anyway; the
newline's log-prob is therefore part of both ll_c and ll_u.
"""

from __future__ import annotations

from collections.abc import Mapping

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


def pair_requests(item: Mapping) -> list[tuple[str, str]]:
    """The four (context, continuation) requests of an item, in the order the metric expects:
    original | Y, original, degraded | Y, degraded."""
    lang = item["lang"]
    cond, uncond = conditional_context(item["constraints"], lang), unconditional_context(lang)
    x_o, x_d = continuation(item["original"]), continuation(item["degraded"])
    return [(cond, x_o), (uncond, x_o), (cond, x_d), (uncond, x_d)]
