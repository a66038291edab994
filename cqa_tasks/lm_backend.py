"""`--model hf-prefix`: lm-eval's `hf` backend with shared-context reuse for log-likelihood requests.

    lm_eval --model hf-prefix --model_args pretrained=DIR,dtype=float32 --tasks cqa --batch_size 8

Everything but `_loglikelihood_tokens` is the stock `HFLM` (loading, tokenization, peft=, dtype,
generation, rolling log-likelihood), so the numbers are lm-eval's own up to float rounding (tested).
Two changes:

* log-likelihood requests go through `cqa_tasks.prefix_scoring.score_pairs` (prefixes shared by
  requests computed once, vocabulary projection only where scored); `--batch_size` counts requests
  (at least 2); requests longer than the model window fall back to the stock path (left truncation);
* under `accelerate launch` on CPU the stock class leaves every process at rank 0 of 1 (it counts
  CUDA devices), so each process would score the whole benchmark; here the processes split the
  documents as they do on GPUs.

Registered with lm-eval's model registry through the `lm_eval.models` entry point (see
`_lmeval_tasks_backport`), or explicitly by importing this module.
"""

from __future__ import annotations

from contextlib import nullcontext

from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM
from tqdm import tqdm

from cqa_tasks.prefix_scoring import score_pairs

CPU_DEFAULT_ROWS = 2  # `--batch_size auto` on CPU (lm-eval's probe would pick 64: no OOM signal on CPU)


@register_model("hf-prefix")
class PrefixSharingHFLM(HFLM):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        accelerator = getattr(self, "accelerator", None)
        if accelerator is not None and accelerator.num_processes > 1 and self._world_size == 1:
            self._rank = accelerator.process_index
            self._world_size = accelerator.num_processes

    def _rows_per_batch(self, override_bs: int | None) -> int:
        # At least 2: a request and its twin share most of their tokens, and the pair costs about
        # the memory of one request, so lm-eval's default `--batch_size 1` still gets the sharing.
        if override_bs:
            rows = int(override_bs)
        elif self.batch_size != "auto":
            rows = int(self.batch_size)
        elif self.device.type == "cpu":
            rows = CPU_DEFAULT_ROWS
        else:
            rows = int(self._detect_batch_size())
        return max(rows, 2)

    def _forward_context(self):
        import torch

        if self.mixed_precision_dtype is None:
            return nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.mixed_precision_dtype)

    def _loglikelihood_tokens(self, requests, disable_tqdm: bool = False, override_bs: int | None = None):
        if self.backend != "causal":
            return super()._loglikelihood_tokens(requests, disable_tqdm=disable_tqdm, override_bs=override_bs)
        fits = [i for i, (_, ctx, cont) in enumerate(requests) if len(ctx) + len(cont) <= self.max_length + 1]
        fitting = set(fits)
        rest = [i for i in range(len(requests)) if i not in fitting]
        results: list = [None] * len(requests)
        if rest:
            for i, answer in zip(rest, super()._loglikelihood_tokens([requests[i] for i in rest], disable_tqdm=disable_tqdm, override_bs=override_bs), strict=True):
                results[i] = answer

        pbar = tqdm(total=len(fits), disable=disable_tqdm or self.rank != 0, desc="Running loglikelihood requests (shared contexts)")

        def on_batch(indices, answers):
            for local, answer in zip(indices, answers, strict=True):
                request_str = requests[fits[local]][0]
                if request_str is not None:
                    self.cache_hook.add_partial("loglikelihood", request_str, answer)
            pbar.update(len(indices))

        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else self.eot_token_id
        answers = score_pairs(
            self.model,
            [(requests[i][1], requests[i][2]) for i in fits],
            rows_per_batch=self._rows_per_batch(override_bs),
            pad_token_id=pad,
            forward_context=self._forward_context,
            on_batch=on_batch,
        )
        pbar.close()
        for i, answer in zip(fits, answers, strict=True):
            results[i] = answer
        return results
