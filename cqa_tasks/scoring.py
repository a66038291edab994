"""Calibrated Surprise outside lm-eval: score items with any local Hugging Face causal LM.

`Reader.loglikelihood` reproduces lm-eval's `hf` backend (0.4.13) request by request: trailing
whitespace of the context moves into the continuation, the continuation tokens are
`tok(context + continuation)[len(tok(context)):]`, BOS follows the tokenizer's default unless
`add_bos_token` says otherwise, and over-long inputs are left-truncated. So `cqa score` and the
lm-eval tasks give the same numbers (tested).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cqa_tasks import prompts
from cqa_tasks.metric import ITEM_METRIC, VersionScore, passage_bytes, score_item


@dataclass
class Reader:
    """A causal LM and its tokenizer, loaded from a local directory (or any `from_pretrained` id)."""

    pretrained: str
    dtype: str = "float32"
    device: str = "cpu"
    add_bos_token: bool | None = None
    batch_size: int = 8

    def __post_init__(self) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(self.pretrained)
        self.model = AutoModelForCausalLM.from_pretrained(self.pretrained, dtype=getattr(torch, self.dtype))
        self.model.to(self.device).eval()
        config = self.model.config
        self.max_length = getattr(config, "max_position_embeddings", None) or getattr(config, "n_positions", 2048)

    def encode(self, text: str) -> list[int]:
        kwargs = {} if self.add_bos_token is None else {"add_special_tokens": self.add_bos_token}
        return self.tokenizer.encode(text, **kwargs)

    def encode_pair(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces:
            context, continuation = context[:-n_spaces], context[-n_spaces:] + continuation
        whole = self.encode(context + continuation)
        context_ids = self.encode(context)
        return context_ids, whole[len(context_ids) :]

    def loglikelihood(self, requests: Sequence[tuple[str, str]]) -> list[float]:
        """Sum of log p(continuation tokens | context), in nats, for each (context, continuation)."""
        return [sum(logprobs) for _, logprobs in self.token_logprobs(requests)]

    def token_logprobs(self, requests: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[float]]]:
        """For each (context, continuation): the continuation's token ids and log p of each (nats)."""
        torch = self._torch
        encoded = []
        for context, cont in requests:
            ctx_ids, cont_ids = self.encode_pair(context, cont)
            ids = (ctx_ids + cont_ids)[-(self.max_length + 1) :][:-1]
            encoded.append((ids, cont_ids))
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i][0]))
        results: list[tuple[list[int], list[float]]] = [([], [])] * len(encoded)
        with torch.inference_mode():
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                width = max(len(encoded[i][0]) for i in batch)
                inputs = torch.zeros((len(batch), width), dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    ids = encoded[i][0]
                    inputs[row, : len(ids)] = torch.tensor(ids)
                    mask[row, : len(ids)] = 1
                logits = self.model(input_ids=inputs.to(self.device), attention_mask=mask.to(self.device)).logits
                logprobs = torch.log_softmax(logits.float(), dim=-1).cpu()
                for row, i in enumerate(batch):
                    ids, cont = encoded[i]
                    n = len(cont)
                    positions = torch.arange(len(ids) - n, len(ids))
                    results[i] = (list(cont), logprobs[row, positions, torch.tensor(cont)].tolist())
        return results


def score_items(reader: Reader, items: Sequence[Mapping]) -> list[dict]:
    """Per-item metrics (as in the lm-eval task) plus the per-item record, for CQA-Bench items.

    Items that carry `foreign_constraints` (prompts.with_foreign_constraints over the whole file)
    also get the foreign-constraint control and the contrast scores.
    """
    per_item = [prompts.pair_requests(item) for item in items]
    lls = reader.loglikelihood([r for requests in per_item for r in requests])
    out, at = [], 0
    for k, (item, requests) in enumerate(zip(items, per_item, strict=True)):
        scores = score_item({"id": str(k)} | dict(item), lls[at : at + len(requests)])
        at += len(requests)
        out.append(scores.pop(ITEM_METRIC) | scores)
    return out


def pointwise_mi(reader: Reader, passages: Sequence[str], constraints: Sequence[Mapping[str, str]], lang: str) -> list[dict]:
    """I(x; y) in bits for single passages, with its components S and R (bits and bits/byte)."""
    requests = []
    for x, y in zip(passages, constraints, strict=True):
        cont = prompts.continuation(x)
        requests += [(prompts.conditional_context(y, lang), cont), (prompts.unconditional_context(lang), cont)]
    lls = reader.loglikelihood(requests)
    out = []
    for k, x in enumerate(passages):
        v = VersionScore(lls[2 * k], lls[2 * k + 1], passage_bytes(x))
        out.append(
            {
                "i_bits": v.pmi_bits,
                "surprise_bits": v.surprise_bits,
                "residual_bits": v.residual_bits,
                "i_bpb": v.per_byte(v.pmi_bits),
                "ll_cond": v.ll_cond,
                "ll_uncond": v.ll_uncond,
            }
        )
    return out
