"""Character n-gram text similarity (pure): near-duplicate and shared-passage checks.

Used by the benchmark's quality tests (no near-duplicate passages across items) and by the
train/bench disjointness test. Text is normalised first (lower-case, letters and digits only), so
punctuation, spacing and case do not hide a copy. The same code works for English and Chinese.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_NON_WORD = re.compile(r"[\W_]+", re.UNICODE)


def normalize(text: str) -> str:
    return _NON_WORD.sub("", text.lower())


def char_ngrams(text: str, n: int) -> set[str]:
    t = normalize(text)
    return {t[i : i + n] for i in range(len(t) - n + 1)} if len(t) >= n else ({t} if t else set())


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


def near_duplicates(texts: dict[str, str], n: int = 5, threshold: float = 0.5) -> list[tuple[str, str, float]]:
    """Pairs of keys whose texts share more than `threshold` of their character n-grams (Jaccard)."""
    grams = {k: char_ngrams(v, n) for k, v in texts.items()}
    keys = sorted(grams)
    index: dict[str, set[str]] = {}
    for k in keys:
        for g in grams[k]:
            index.setdefault(g, set()).add(k)
    out = []
    for a in keys:
        candidates = {b for g in grams[a] for b in index[g] if b > a}
        for b in sorted(candidates):
            score = jaccard(grams[a], grams[b])
            if score > threshold:
                out.append((a, b, score))
    return out


def shared_long_ngrams(left: Iterable[str], right: Iterable[str], n: int = 30) -> set[str]:
    """Normalised character n-grams (default 30 characters, about six English words or a long
    Chinese clause) that occur in both collections of texts."""
    grams: set[str] = set()
    for t in left:
        grams |= char_ngrams(t, n)
    found: set[str] = set()
    for t in right:
        found |= grams & char_ngrams(t, n)
    return found
