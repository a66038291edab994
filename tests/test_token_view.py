"""Issue 6, item 2: the per-token view (spans, per-token bits, page); the real-model check is in
test_real_model.py."""

import math

import pytest

from cqa_train.token_view import per_token_bits, render_items, token_spans


def byte_decode(ids):
    """A byte-level tokenizer's decode: one token per UTF-8 byte."""
    return bytes(ids).decode("utf-8", errors="replace")


def test_spans_join_the_bytes_of_a_cjk_character():
    text = "\n雪落。A b"
    ids = list(text.encode("utf-8"))
    spans = token_spans(byte_decode, ids)
    assert [t for t, _ in spans] == ["\n", "雪", "落", "。", "A", " ", "b"]
    assert spans[1][1] == [1, 2, 3]  # three byte tokens make one character
    assert [k for _, idx in spans for k in idx] == list(range(len(ids)))


def test_spans_keep_a_space_that_single_token_decoding_drops():
    vocab = {1: "Hello", 2: " world"}

    def decode(ids):  # like a SentencePiece decoder: a lone token loses its leading space
        return "".join(vocab[i] for i in ids) if len(ids) > 1 else vocab[ids[0]].lstrip()

    assert [t for t, _ in token_spans(decode, [1, 2])] == ["Hello", " world"]


def test_per_token_bits_by_hand():
    ids = list("\n雪".encode())  # 4 tokens, 2 spans
    cond = (ids, [-1.0, -2.0, -0.5, -0.5])
    uncond = (ids, [-1.5, -3.0, -1.0, -1.0])
    out = per_token_bits(cond, uncond, byte_decode)
    assert [t for t, _ in out] == ["\n", "雪"]
    assert out[0][1] == pytest.approx(0.5 / math.log(2))
    assert out[1][1] == pytest.approx((1.0 + 0.5 + 0.5) / math.log(2))
    with pytest.raises(ValueError, match="tokenizes differently"):
        per_token_bits(cond, (ids[:-1], [-1.0] * 3), byte_decode)


def test_page_per_item_and_version(mini_records):
    item = mini_records[0]
    before = {item["id"]: {"original": [("\n", 0.0), ("<b>", 1.0)], "degraded": [("\n", 0.0), ("x", -1.0)]}}
    after = {item["id"]: {"original": [("\n", 0.0), ("<b>", 3.0)], "degraded": [("\n", 0.0), ("x", -1.0)]}}
    page = render_items([item], before, after, ("base", "cqa_cot/epoch-1"))
    assert page.count("<section>") == 2 and "&lt;b&gt;" in page and "<b>" not in page
    assert f"{item['id']} (literary, en, lexis) — original: I = +1.00 → +3.00 bits" in page
    # ΔI before: 1 − (−1) = 2; after: 3 − (−1) = 4
    assert "ΔI = I(original) − I(degraded): +2.00 → +4.00 bits; Δ(ΔI) = +2.00 bits" in page
