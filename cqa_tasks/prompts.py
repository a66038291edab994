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


# ------------------------------------------------------------------ human-judged data (cqa_human_*)
# Y is a writing prompt there, not the bench's three constraints: one labelled line, then the same
# header H, so a text is scored on the same tokens with and without its prompt.
PROMPT_LABEL = {"en": "Writing prompt", "zh": "写作题目"}


def render_prompt(prompt: str, lang: str) -> str:
    """Y for a human-judged text: `Writing prompt: <prompt>` (`写作题目：<prompt>`), then a blank line."""
    return f"{PROMPT_LABEL[lang]}{_SEP[lang]}{prompt.strip()}\n\n"


def prompt_context(prompt: str, lang: str) -> str:
    return render_prompt(prompt, lang) + HEADER[lang]


def with_foreign_prompts(records: Sequence[Mapping]) -> list[dict]:
    """Each record with `foreign_id` and `foreign_prompt`: another record's prompt, Y'.

    Within each language, the distinct prompts are ordered by the smallest id that uses them, and
    prompt k borrows prompt k + m//2 (mod m) of the m prompts. Pairing prompts rather than records
    keeps Y' different from Y when several texts answer one prompt (HANNA: 11 stories a prompt);
    with one prompt per record it is the record rule k -> k + n//2 over records sorted by id.
    `foreign_id` is the smallest id using the borrowed prompt. A language with a single prompt
    gets None for both: there is no other prompt to borrow.
    """
    first_id: dict[tuple[str, str], str] = {}
    for r in sorted(records, key=lambda r: r["id"]):
        first_id.setdefault((r["lang"], r["prompt"].strip()), r["id"])
    by_lang: dict[str, list[tuple[str, str]]] = {}
    for (lang, prompt), rid in sorted(first_id.items(), key=lambda kv: kv[1]):
        by_lang.setdefault(lang, []).append((prompt, rid))
    borrowed: dict[tuple[str, str], tuple[str, str] | None] = {}
    for lang, prompts in by_lang.items():
        m = len(prompts)
        for k, (prompt, _) in enumerate(prompts):
            borrowed[(lang, prompt)] = prompts[(k + m // 2) % m] if m > 1 else None
    out = []
    for r in records:
        other = borrowed[(r["lang"], r["prompt"].strip())]
        out.append(dict(r) | {"foreign_id": other and other[1], "foreign_prompt": other and other[0]})
    return out


def text_requests(prompt: str, foreign_prompt: str | None, lang: str, text: str) -> list[tuple[str, str]]:
    """One human-judged text: text | Y, text, and where there is a foreign prompt, text | Y'."""
    x = continuation(text)
    requests = [(prompt_context(prompt, lang), x), (unconditional_context(lang), x)]
    if foreign_prompt:
        requests.append((prompt_context(foreign_prompt, lang), x))
    return requests


def human_pair_requests(item: Mapping) -> list[tuple[str, str]]:
    """A human-judged pair, in the bench's order: chosen | Y, chosen, rejected | Y, rejected, and
    where there is a foreign prompt: chosen | Y', rejected | Y'."""
    lang, prompt, foreign = item["lang"], item["prompt"], item.get("foreign_prompt")
    chosen = text_requests(prompt, foreign, lang, item["chosen"])
    rejected = text_requests(prompt, foreign, lang, item["rejected"])
    return chosen[:2] + rejected[:2] + [r for reqs in (chosen, rejected) for r in reqs[2:]]
