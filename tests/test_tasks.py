"""The lm-eval side: task index, requests, metrics end to end with a deterministic fake LM."""

import json
import math

import pytest
from lm_eval.api.model import LM

from cqa_tasks import prompts
from cqa_tasks.data import BENCH_FILE, data_dir, sha256_of, task_dir
from cqa_tasks.metric import METRICS, aggregate
from tests.lm_eval_files import HashLM

LN2 = math.log(2)
LEAVES = [f"{g}_{lang}_{d}" for g in ("cqa_creative", "cqa_factual") for lang in ("en", "zh") for d in ("ethos", "mythos", "lexis", "dianoia")]


class TableLM(LM):
    """Returns log-likelihoods from a rule the tests know: originals gain 3 nats from Y, twins gain 1
    (English) or 4 (Chinese). So en pairs are won and zh pairs are lost."""

    def __init__(self, records):
        super().__init__()
        self.originals = {prompts.continuation(r["original"]) for r in records}
        self.calls = []

    def loglikelihood(self, requests, disable_tqdm=False):
        out = []
        for req in requests:
            ctx, cont = req.args
            self.calls.append((ctx, cont))
            conditional = ctx not in prompts.HEADER.values()
            zh = "正文" in ctx
            gain = 3.0 if cont in self.originals else (4.0 if zh else 1.0)
            out.append((-13.0 + (gain if conditional else 0.0), False))
        return out

    def loglikelihood_rolling(self, requests, disable_tqdm=False):
        raise NotImplementedError

    def generate_until(self, requests, disable_tqdm=False):
        raise NotImplementedError


def test_index_lists_tasks_groups(task_manager):
    names = set(task_manager.all_tasks)
    assert {"cqa", "cqa_creative", "cqa_factual", "cqa_custom", "cqa_match", "cqa_creative_en", "cqa_factual_zh"} <= names
    assert set(LEAVES) <= names


def test_generated_configs_are_current():
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen", task_dir() / "_generate_configs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for name, text in gen.files().items():
        assert (task_dir() / name).read_text(encoding="utf-8") == text, f"{name} is stale: run `make configs`"


def test_four_requests_per_item_with_shared_header(mini_path, mini_records):
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata={"data": str(mini_path)})
    task = tm.load(["cqa_custom"])["tasks"]["cqa_custom"]
    task.build_all_requests(limit=None, rank=0, world_size=1)
    by_doc = {}
    for inst in task.instances:
        by_doc.setdefault(inst.doc_id, []).append(inst)
    assert len(by_doc) == len(mini_records)
    for insts in by_doc.values():
        insts.sort(key=lambda i: i.idx)
        doc = insts[0].doc
        assert [i.idx for i in insts] == [0, 1, 2, 3]
        assert all(i.request_type == "loglikelihood" for i in insts)
        (c0, x0), (c1, x1), (c2, x2), (c3, x3) = (i.args for i in insts)
        header = prompts.HEADER[doc["lang"]]
        assert c1 == c3 == header and c0 == c2 and c0.endswith(header) and c0 != header
        assert x0 == x1 == "\n" + doc["original"].strip()
        assert x2 == x3 == "\n" + doc["degraded"].strip()
        for key in ("intent", "audience", "reality"):
            assert doc["constraints"][key] in c0


def test_metrics_end_to_end_with_fake_lm(mini_path, mini_records):
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata={"data": str(mini_path)})
    lm = TableLM(mini_records)
    res = simple_evaluate(model=lm, tasks=["cqa_custom"], task_manager=tm, bootstrap_iters=0, log_samples=True)
    r = res["results"]["cqa_custom"]
    # en: I(o) = 3/ln2, I(d) = 1/ln2 -> dI = 2/ln2, win. zh: I(d) = 4/ln2 -> dI = -1/ln2, loss.
    assert r["pair_acc,none"] == pytest.approx(0.5)
    assert r["delta_i,none"] == pytest.approx((2 + 2 - 1 - 1) / 4 / LN2)
    assert r["i_orig,none"] == pytest.approx(3 / LN2)
    assert r["surprise_orig_bpb,none"] == pytest.approx(
        sum(13 / LN2 / len(x["original"].encode()) for x in mini_records) / 4
    )
    assert r["acc_uncond_only,none"] == pytest.approx(0.5)  # all ll_u equal: ties
    assert r["cqa_item,none"] == 4
    assert set(METRICS) <= {k.split(",")[0] for k in r}
    # TableLM gives every version the same ll_u: every pair is an S tie, so both surprise strata are
    # empty and their accuracies are NaN (with a warning), never a silent 0.5.
    assert r["share_s_up,none"] == pytest.approx(0.5)
    for key in ("pair_acc_s_up", "pair_acc_s_down", "pair_acc_balanced", "u_pair_acc_balanced"):
        assert math.isnan(r[f"{key},none"]), key
    # mini.jsonl has one item per (group, lang): no foreign Y' to borrow, so the control is undefined
    assert math.isnan(r["pair_acc_foreign,none"]) and math.isnan(r["contrast_pair_acc,none"])
    # every item's raw values are in the samples log
    samples = res["samples"]["cqa_custom"]
    rec = samples[0]["cqa_item"]
    assert {"ll_c_orig", "ll_u_orig", "ll_c_degr", "ll_u_degr", "i_orig", "i_degr", "delta_i"} <= set(rec)
    assert rec["ll_u_orig"] == -13.0
    # the data file is named in the task metadata, hence in results files
    meta = res["configs"]["cqa_custom"]["metadata"]
    assert meta["data_sha256"] == sha256_of(mini_path)
    assert meta["data_file"] == "mini.jsonl"
    json.dumps(res["results"])  # serialisable


def _bench_records():
    return [json.loads(line) for line in (data_dir() / BENCH_FILE).read_text(encoding="utf-8").splitlines() if line.strip()]


def test_groups_aggregate_over_languages_and_dimensions():
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    records = _bench_records()
    tm = TaskManager(include_defaults=False, include_path=str(task_dir()))
    res = simple_evaluate(model=TableLM(records), tasks=["cqa"], task_manager=tm, bootstrap_iters=0, limit=2)
    groups = res["groups"]
    for g in ("cqa", "cqa_creative", "cqa_factual", "cqa_creative_en", "cqa_creative_zh", "cqa_factual_en", "cqa_factual_zh"):
        assert g in groups, g
    assert groups["cqa_creative_en"]["pair_acc,none"] == pytest.approx(1.0)
    assert groups["cqa_creative_zh"]["pair_acc,none"] == pytest.approx(0.0)
    assert groups["cqa"]["pair_acc,none"] == pytest.approx(0.5)
    assert set(LEAVES) <= set(res["results"])
    meta = res["configs"]["cqa_creative_en_ethos"]["metadata"]
    assert meta["data_sha256"] == sha256_of(data_dir() / BENCH_FILE)
    assert meta["bench_version"] == "1.1" and meta["data_file"] == "cqa_bench_v1_1.jsonl"


def test_v1_stays_reachable_through_the_data_metadata_key():
    """`--metadata '{"data": "cqa_bench_v1.jsonl"}'` runs every bench task on v1, split the same way."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    tm = TaskManager(include_defaults=False, include_path=str(task_dir()), metadata={"data": "cqa_bench_v1.jsonl"})
    res = simple_evaluate(model=HashLM(), tasks=["cqa_creative_zh_lexis", "cqa_match"], task_manager=tm,
                          bootstrap_iters=0, limit=3)  # fmt: skip
    for task in ("cqa_creative_zh_lexis", "cqa_match"):
        meta = res["configs"][task]["metadata"]
        assert meta["bench_version"] == "1.0" and meta["data_file"] == "cqa_bench_v1.jsonl"
        assert meta["data_sha256"] == sha256_of(data_dir() / "cqa_bench_v1.jsonl")
    assert res["results"]["cqa_creative_zh_lexis"]["cqa_item,none"] == 3


def test_match_task_pairs_foreign_constraints_deterministically(task_manager):
    task = task_manager.load(["cqa_match"])["tasks"]["cqa_match"]
    docs = list(task.test_docs())
    assert docs, "no docs"
    by_id = {d["id"]: d for d in docs}
    for d in docs:
        foreign = by_id[d["foreign_id"]]
        assert d["foreign_id"] != d["id"]
        assert (foreign["group"], foreign["lang"]) == (d["group"], d["lang"])
        assert d["foreign_constraints"] == foreign["constraints"]
    again = list(task_manager.load(["cqa_match"])["tasks"]["cqa_match"].test_docs())
    assert [d["foreign_id"] for d in again] == [d["foreign_id"] for d in docs]


def test_group_rows_pool_leaves_exactly():
    """Every group row equals the metric computed on all its items at once, on leaves of different
    sizes (24, 20, 7 and 6 items) whose outcomes differ; a size-weighted mean of leaf values would not."""
    from lm_eval import simple_evaluate
    from lm_eval.tasks import TaskManager

    _bench_records()
    tm = TaskManager(include_defaults=False, include_path=str(task_dir()))
    res = simple_evaluate(model=HashLM(), tasks=["cqa"], task_manager=tm, bootstrap_iters=0, log_samples=True)
    items = {task: res["samples"][task] for task in LEAVES}
    assert len({len(v) for v in items.values()}) > 1, "leaves must differ in size for this test to mean anything"
    groups = {
        "cqa": LEAVES,
        "cqa_creative": [t for t in LEAVES if t.startswith("cqa_creative_")],
        "cqa_factual_zh": [t for t in LEAVES if t.startswith("cqa_factual_zh_")],
    }
    naive_differs = 0
    for group, leaves in groups.items():
        for name in METRICS:
            exact = aggregate(name, [row[name] for t in leaves for row in items[t]])
            got = res["groups"][group][f"{name},none"]
            assert got == pytest.approx(exact, nan_ok=True), (group, name)
            sizes = [len(items[t]) for t in leaves]
            leaf_values = [float(res["results"][t][f"{name},none"]) for t in leaves]
            if all(not math.isnan(v) for v in leaf_values):
                naive = sum(v * n for v, n in zip(leaf_values, sizes, strict=False)) / sum(sizes)
                naive_differs += abs(naive - exact) > 1e-9
    for t in LEAVES:  # leaves too: each is its own items' value
        for name in ("pair_acc_s_up", "contrast_pair_acc_balanced", "delta_contrast"):
            assert res["results"][t][f"{name},none"] == pytest.approx(aggregate(name, [r[name] for r in items[t]]), nan_ok=True)
    assert naive_differs > 0  # the stratified values really need the exact pooling
    json.loads(json.dumps(res["results"]))  # the pooled values serialise as plain numbers


def test_six_requests_share_the_match_tasks_foreign_request(task_manager):
    leaf = task_manager.load(["cqa_creative_en_ethos"])["tasks"]["cqa_creative_en_ethos"]
    leaf.build_all_requests(limit=None, rank=0, world_size=1)
    match = task_manager.load(["cqa_match"])["tasks"]["cqa_match"]
    match.build_all_requests(limit=None, rank=0, world_size=1)
    match_requests = {inst.doc["id"]: [i.args for i in match.instances if i.doc_id == inst.doc_id] for inst in match.instances}
    by_doc = {}
    for inst in leaf.instances:
        by_doc.setdefault(inst.doc_id, []).append(inst)
    for insts in by_doc.values():
        insts.sort(key=lambda i: i.idx)
        doc = insts[0].doc
        assert len(insts) == 6
        (c0, x_o), _, (_, x_d), _, (f_o, x_o2), (f_d, x_d2) = (i.args for i in insts)
        assert f_o == f_d == prompts.conditional_context(doc["foreign_constraints"], doc["lang"]) != c0
        assert (x_o2, x_d2) == (x_o, x_d)
        assert (f_o, x_o) in match_requests[doc["id"]]  # the very request cqa_match makes
