"""The shared-prefix scorer behind `--model hf-prefix`: plan properties and equality with a plain forward."""

import random

import pytest
import torch

from cqa_tasks import prefix_scoring
from cqa_tasks.prefix_scoring import forward_tokens, model_inputs, plan_batches, score_pairs


def _pairs(seed: int = 0) -> list[tuple[list[int], list[int]]]:
    """CQA-shaped requests: per item o|Y, o, d|Y, d, where d repeats o up to an edit."""
    rng = random.Random(seed)
    header = [5, 6]
    pairs = []
    for _ in range(6):
        y = [rng.randrange(10, 90) for _ in range(rng.randrange(3, 9))]
        o = [rng.randrange(10, 90) for _ in range(rng.randrange(4, 14))]
        cut = rng.randrange(1, len(o))
        d = o[:cut] + [rng.randrange(10, 90) for _ in range(rng.randrange(1, 6))]
        pairs += [(y + header, o), (header, o), (y + header, d), (header, d)]
    pairs.append(([7], [8]))  # one-token continuation
    pairs.append(([7], [8]))  # identical request
    pairs.append(([7, 8, 9], [10, 11]))  # shares a prefix with the context of another request
    return pairs


def _common_prefix(a, b) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n


@pytest.mark.parametrize("rows", [1, 2, 3, 8])
def test_plan_covers_every_request_once_within_batch_limit(rows):
    pairs = _pairs()
    batches = plan_batches(pairs, rows)
    seen = sorted(i for groups in batches for g in groups for i in g.rows)
    assert seen == list(range(len(pairs)))
    assert all(sum(len(g.rows) for g in groups) <= rows for groups in batches)


def test_group_prefix_is_shared_by_every_row():
    pairs = _pairs()
    inputs = model_inputs(pairs)
    for groups in plan_batches(pairs, 4):
        for g in groups:
            first = inputs[g.rows[0]]
            assert 0 < g.prefix_len <= len(first)
            for i in g.rows:
                assert _common_prefix(first, inputs[i]) >= g.prefix_len


def test_plan_groups_twins_and_computes_fewer_tokens():
    pairs = _pairs()
    full = sum(len(x) for x in model_inputs(pairs))
    assert forward_tokens(pairs, plan_batches(pairs, 1)) == full  # one row per batch: nothing shared
    two = plan_batches(pairs, 2)
    grouped = {frozenset(g.rows) for groups in two for g in groups if len(g.rows) == 2}
    assert frozenset({0, 2}) in grouped  # o|Y with d|Y of the first item
    assert forward_tokens(pairs, two) < full


def test_plan_rejects_empty_batches():
    with pytest.raises(ValueError, match="rows_per_batch"):
        plan_batches(_pairs(), 0)


@pytest.fixture(scope="module")
def tiny_llama():
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=96, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128)
    return LlamaForCausalLM(config).eval()


def _reference(model, pairs):
    """lm-eval's `hf` computation: one full forward per request, log-softmax, gather."""
    out = []
    with torch.no_grad():
        for context, cont in pairs:
            ids = torch.tensor([list(context) + list(cont)[:-1]])
            logprobs = torch.log_softmax(model(ids).logits[0, -len(cont) :].float(), dim=-1)
            target = torch.tensor(cont)
            out.append((float(logprobs.gather(1, target[:, None]).sum()), bool((logprobs.argmax(-1) == target).all())))
    return out


@pytest.mark.parametrize("rows", [1, 2, 3, 8])
def test_scores_equal_one_forward_per_request(tiny_llama, rows):
    pairs = _pairs(1)
    expected = _reference(tiny_llama, pairs)
    got = score_pairs(tiny_llama, pairs, rows_per_batch=rows)
    for (ll, greedy), (ll_ref, greedy_ref) in zip(got, expected, strict=True):
        assert ll == pytest.approx(ll_ref, abs=1e-4)
        assert greedy == greedy_ref


def test_full_logits_fallback_gives_the_same_scores(tiny_llama, monkeypatch):
    pairs = _pairs(2)
    fast = score_pairs(tiny_llama, pairs, rows_per_batch=4)
    monkeypatch.setattr(prefix_scoring, "_keeps_masked_logits", lambda model: False)
    slow = score_pairs(tiny_llama, pairs, rows_per_batch=4)
    assert [round(a, 4) for a, _ in fast] == [round(b, 4) for b, _ in slow]


def test_progress_callback_sees_every_request(tiny_llama):
    pairs = _pairs(3)
    seen = []
    score_pairs(tiny_llama, pairs, rows_per_batch=3, on_batch=lambda idx, res: seen.extend(idx))
    assert sorted(seen) == list(range(len(pairs)))


def test_empty_context_is_refused(tiny_llama):
    with pytest.raises(ValueError, match="request 1"):
        score_pairs(tiny_llama, [([1], [2]), ([], [3])])


def test_lm_eval_resolves_hf_prefix_through_the_entry_point():
    # run in a fresh interpreter: the registration happens when lm_eval.models is first imported
    import subprocess
    import sys

    code = ("from lm_eval.api.registry import get_model; "
            "print(get_model('hf-prefix').__module__, get_model('hf').__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["cqa_tasks.lm_backend", "HFLM"]
