"""Which aspects of writing does an SFT data set actually teach? (the paper's "data bias" check)

For BC-Protocol files the aspect tags are the ground truth: share of reasoning steps (and of
reasoning characters) per aspect. For untagged files (plain prompt/response JSONL, the LIMA-style
set) a transparent bilingual keyword tagger estimates the same shares sentence by sentence; its
precision and recall are measured against the tagged BC steps and printed beside every estimate.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from cqa_train.annotations import ASPECTS

NONE = "none"

# Cue words per aspect. Kept short and readable on purpose: the point is a tagger anyone can audit.
LEXICON: dict[str, dict[str, tuple[str, ...]]] = {
    "intent": {
        "en": ("intent", "intend", "purpose", "aim", "point of", "meant to", "wants to", "trying to", "theme",
               "goal", "effect", "the author", "after", "message", "so that"),
        "zh": ("意图", "目的", "想要", "想让", "主题", "本意", "用意", "要表达", "作者想", "为了", "效果", "立意"),
    },
    "audience": {
        "en": ("reader", "audience", "listener", "child", "kid", "year-old", "teen", "student", "adult", "expert",
               "beginner", "viewer", "they know", "understand", "expect", "bedtime", "aloud", "for whom", "jargon"),
        "zh": ("读者", "观众", "听众", "孩子", "儿童", "小朋友", "学生", "老人", "看得懂", "听得懂", "理解", "岁",
               "外行", "专业", "初学", "大人", "年轻人", "受众"),
    },
    "reality": {
        "en": ("real", "true", "actually", "plausib", "possible", "happen", "physics", "histor", "century", "period",
               "anachron", "season", "weather", "fact", "logic", "would never", "could not", "in practice", "rule"),
        "zh": ("真实", "现实", "事实", "可能", "不可能", "历史", "年代", "朝代", "季节", "物理", "常识", "合理",
               "逻辑", "时代", "真的", "规律", "规则", "实际"),
    },
    "craft": {
        "en": ("sentence", "rhythm", "word", "verb", "adjective", "image", "metaphor", "line", "structure", "paragraph",
               "ending", "opening", "dialogue", "tense", "repetition", "cut ", "syllable", "pace", "detail"),
        "zh": ("句", "节奏", "用词", "动词", "形容词", "意象", "比喻", "结构", "段落", "结尾", "开头", "对白", "重复",
               "删", "字", "细节", "语气"),
    },
}

_SENTENCE = re.compile(r"(?<=[.!?。！？；])\s*")


def split_units(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 1]


def tag(text: str, lang: str | None = None) -> str:
    """The aspect whose cue words occur most often in `text` (ties in ASPECTS order), or 'none'."""
    low = text.lower()
    langs = (lang,) if lang in ("en", "zh") else ("en", "zh")
    hits = {a: sum(low.count(w) for L in langs for w in LEXICON[a][L]) for a in ASPECTS}
    best = max(ASPECTS, key=lambda a: hits[a])
    return best if hits[best] else NONE


def tagged_shares(records: Sequence[dict]) -> dict[str, dict[str, float]]:
    """Ground-truth shares from BC tags: by number of steps and by characters of thought."""
    steps = [s for r in records for s in r["reasoning"]]
    by_count = Counter(s["aspect"] for s in steps)
    by_chars = Counter()
    for s in steps:
        by_chars[s["aspect"]] += len(s["thought"])
    n, c = sum(by_count.values()) or 1, sum(by_chars.values()) or 1
    return {
        "steps": {a: by_count[a] / n for a in ASPECTS},
        "chars": {a: by_chars[a] / c for a in ASPECTS},
    }


def estimated_shares(records: Sequence[dict]) -> dict[str, float]:
    """Tagger estimate over the sentences of the response (or reasoning, when present)."""
    counts = Counter()
    for r in records:
        lang = r.get("lang")
        if "reasoning" in r:
            units = [s["thought"] for s in r["reasoning"]]
        else:
            units = split_units(r["response"])
        counts.update(tag(u, lang) for u in units)
    n = sum(counts.values()) or 1
    return {a: counts[a] / n for a in (*ASPECTS, NONE)}


def tagger_quality(records: Sequence[dict]) -> dict[str, dict[str, float]]:
    """Per-aspect precision and recall of `tag` against the gold aspect of each BC reasoning step."""
    gold, pred = [], []
    for r in records:
        for s in r["reasoning"]:
            gold.append(s["aspect"])
            pred.append(tag(s["thought"], r.get("lang")))
    out = {}
    for a in ASPECTS:
        tp = sum(g == a and p == a for g, p in zip(gold, pred, strict=True))
        predicted, actual = sum(p == a for p in pred), sum(g == a for g in gold)
        out[a] = {"precision": tp / predicted if predicted else 0.0, "recall": tp / actual if actual else 0.0, "n": actual}
    out["_all"] = {"accuracy": sum(g == p for g, p in zip(gold, pred, strict=True)) / max(1, len(gold)), "n": len(gold)}
    return out


def stats_line(name: str, records: Sequence[dict]) -> str:
    langs = Counter(r.get("lang", "?") for r in records)
    zh = langs.get("zh", 0)
    parts = [f"{name}: {len(records)} records", f"en {langs.get('en', 0)} / zh {zh} ({zh / max(1, len(records)):.0%} zh)"]
    kinds = Counter(r.get("kind") or r.get("category") or "-" for r in records)
    parts.append(", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    steps = [s for r in records for s in r.get("reasoning", [])]
    if steps:
        shares = tagged_shares(records)["steps"]
        parts.append(
            f"{len(steps)} steps; audience+reality {shares['audience'] + shares['reality']:.0%}, craft {shares['craft']:.0%}"
        )
    return "; ".join(parts)
