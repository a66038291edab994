"""Calibrated Surprise as a Hugging Face `evaluate` metric, loadable from a local path:

    import evaluate
    from cqa_tasks.hf_evaluate import module_path
    cs = evaluate.load(module_path())
    cs.compute(predictions=[passage], references=[{"intent": ..., "audience": ..., "reality": ...}],
               model="/path/to/hf/model", lang="en")
    # -> {"i_bits": [...], "surprise_bits": [...], "residual_bits": [...], "mean_i_bits": ...}

Give `degraded=[twin, ...]` as well to get the pair metrics exactly as the lm-eval task computes
them (docs/metric.md): per item, and pooled over all pairs under `overall` (the primary score
`contrast_pair_acc_balanced`, the surprise strata, U = I/S, the foreign-constraint control). With two
or more pairs each borrows another pair's constraints as its foreign Y'. The model is read from a
local directory; nothing is downloaded.
"""

import datasets
import evaluate

_DESCRIPTION = "Calibrated Surprise: pointwise mutual information I(x; y) in bits between a passage and its constraints, under a causal LM."
_KWARGS = """
Args:
    predictions: passages (str).
    references: constraint dicts with keys intent, audience, reality.
    model: local Hugging Face causal-LM directory.
    lang: "en" or "zh" (chooses the neutral header). Default "en".
    degraded: optional degraded twins, one per passage: adds pair metrics.
    dtype, batch_size: passed to the reader (default float32, 8).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS)
class CalibratedSurprise(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation="Zou & Xu (2026), Creative Quality Alignment.",
            inputs_description=_KWARGS,
            features=datasets.Features(
                {
                    "predictions": datasets.Value("string"),
                    "references": {
                        "intent": datasets.Value("string"),
                        "audience": datasets.Value("string"),
                        "reality": datasets.Value("string"),
                    },
                }
            ),
        )

    def _compute(self, predictions, references, model, lang="en", degraded=None, dtype="float32", batch_size=8):
        from cqa_tasks.metric import METRICS, aggregate
        from cqa_tasks.prompts import with_foreign_constraints
        from cqa_tasks.scoring import Reader, pointwise_mi, score_items

        reader = Reader(model, dtype=dtype, batch_size=batch_size)
        if degraded is None:
            rows = pointwise_mi(reader, predictions, references, lang)
            out = {k: [r[k] for r in rows] for k in ("i_bits", "surprise_bits", "residual_bits", "i_bpb")}
            out["u"] = [i / s if s > 0 else float("nan") for i, s in zip(out["i_bits"], out["surprise_bits"], strict=True)]
            out["mean_i_bits"] = sum(out["i_bits"]) / max(1, len(rows))
            return out
        items = [
            {"id": f"{k:06d}", "group": "custom", "lang": lang, "constraints": y, "original": x, "degraded": d}
            for k, (x, y, d) in enumerate(zip(predictions, references, degraded, strict=True))
        ]
        rows = score_items(reader, with_foreign_constraints(items))
        keys = [k for k in rows[0] if k != "id"] if rows else []
        out = {k: [r[k] for r in rows] for k in keys}
        out["mean_delta_i"] = sum(out["delta_i"]) / max(1, len(rows))
        out["pair_accuracy"] = sum(out["pair_acc"]) / max(1, len(rows))
        out["overall"] = {name: aggregate(name, out[name]) for name in METRICS} if rows else {}
        return out
