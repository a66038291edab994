"""The hostile-input corpus of issue 16: fixtures (bad and hostile files) and the cases that feed them
to every `cqa` subcommand. Each case says the exit code and what the error must name (a file, an
option); tests/test_hostile_inputs.py runs them and checks there is no traceback and nothing written.

Fixtures are built once per session under a temporary directory, from the checked-in test data.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path(__file__).parent / "data"
MINI = DATA / "mini.jsonl"
RUN_A = DATA / "surprise_era" / "hash-lm-a"
RUN_B = DATA / "surprise_era" / "hash-lm-b"
BC_FILE = Path(__file__).resolve().parents[1] / "cqa_train" / "data" / "bc_protocol_v1.jsonl"


def _records() -> list[dict]:
    return [json.loads(line) for line in MINI.read_text(encoding="utf-8").splitlines() if line.strip()]


def _jsonl(path: Path, records: list) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _edit_first_sample(run: Path, edit: Callable[[dict], None]) -> None:
    samples = sorted(run.glob("samples_cqa_creative_en_*.jsonl"))[0]
    lines = samples.read_text(encoding="utf-8").splitlines()
    row = json.loads(lines[0])
    edit(row)
    lines[0] = json.dumps(row, allow_nan=True)
    samples.write_text("\n".join(lines) + "\n", encoding="utf-8")


def build_fixtures(root: Path) -> Path:
    """Every bad input the cases use, under `root` (returned)."""
    recs = _records()
    root.mkdir(parents=True, exist_ok=True)
    shutil.copy(MINI, root / "good.jsonl")
    (root / "bad_utf8.jsonl").write_bytes(MINI.read_bytes().replace(b"night-shift", b"night\xff-shift", 1))
    _jsonl(root / "bad_record.jsonl", [recs[0] | {"dimension": "pathos"}, *recs[1:]])
    (root / "deep.jsonl").write_text("[" * 100_000 + "]" * 100_000 + "\n", encoding="utf-8")
    (root / "surrogate.jsonl").write_text(
        json.dumps(recs[0]).replace("night-shift", "night\\ud800shift", 1) + "\n", encoding="utf-8")
    _jsonl(root / "long.jsonl", [recs[0] | {"original": "word " * 5_000, "degraded": "verb " * 5_000}])
    (root / "nan.jsonl").write_text(json.dumps(recs[0] | {"genre": float("nan")}) + "\n", encoding="utf-8")
    (root / "empty.jsonl").write_text("", encoding="utf-8")
    (root / "not_json.jsonl").write_text("this is not JSON\n", encoding="utf-8")
    (root / "a_dir").mkdir()
    (root / "a_file").write_text("an existing file, not a directory\n", encoding="utf-8")
    os.mkfifo(root / "a_fifo")
    (root / "fake_model").mkdir()
    (root / "fake_model" / "config.json").write_text(json.dumps({"model_type": "llama"}), encoding="utf-8")
    (root / "home").mkdir()  # $CQA_HOME of every case: empty, and must stay so

    bc = [json.loads(line) for line in BC_FILE.read_text(encoding="utf-8").splitlines()[:2]]
    bc[1]["reasoning"][0]["aspect"] = "vibes"
    _jsonl(root / "bad_bc.jsonl", bc)
    (root / "bad_bc_utf8.jsonl").write_bytes(BC_FILE.read_bytes()[:3000].rsplit(b"\n", 1)[0] + b"\n\xc3\x28\n")
    (root / "list.yaml").write_text("- name: x\n- base_model: smollm2\n", encoding="utf-8")
    (root / "invalid.yaml").write_text("name: x\nbase_model: [smollm2\ndata: y\n", encoding="utf-8")
    (root / "latin1.yaml").write_bytes("name: caf\xe9\n".encode("latin-1"))
    (root / "bad_values.yaml").write_text(
        "name: x\nbase_model: smollm2\ndata: [bc_protocol_v1.jsonl]\nepochs: 1.5\nlr: .nan\nlora: {rank: 0}\n",
        encoding="utf-8")

    runs = root / "runs"
    runs.mkdir()
    _copy_run(RUN_A, runs / "ok_a")
    _copy_run(RUN_B, runs / "ok_b")
    array = runs / "array_run"
    array.mkdir()
    (array / "results_2026-12-06T01-00-00.000000.json").write_text("[1, 2, 3]\n", encoding="utf-8")
    deep = runs / "deep_run"
    deep.mkdir()
    (deep / "results_2026-12-06T01-00-00.000000.json").write_text("[" * 50_000 + "]" * 50_000, encoding="utf-8")
    _edit_first_sample(_copy_run(RUN_B, runs / "nan_run"), lambda row: row["cqa_item"].update(delta_i=float("nan")))
    _edit_first_sample(_copy_run(RUN_B, runs / "text_run"), lambda row: row["cqa_item"].update(delta_i="abc"))
    utf8 = _copy_run(RUN_B, runs / "utf8_run")
    samples = sorted(utf8.glob("samples_cqa_creative_en_*.jsonl"))[0]
    samples.write_bytes(samples.read_bytes().replace(b'"doc_id"', b'"doc\xff_id"', 1))
    (runs / "empty_run").mkdir()
    return root


@dataclass(frozen=True)
class Case:
    """argv uses {f} for the fixture dir; `names` must all appear in the output (stderr, and stdout for
    the validators, whose report is their output)."""

    id: str
    argv: list[str]
    code: int
    names: list[str]
    patch: Callable | None = field(default=None, compare=False)  # (monkeypatch) -> None, e.g. a Ctrl-C


def case(id: str, argv: str | list[str], code: int, *names: str, patch: Callable | None = None) -> Case:
    return Case(id, argv.split() if isinstance(argv, str) else argv, code, list(names), patch)


FILE_CASES = [
    # the root, models
    case("no-command", [], 2, "command"),
    case("unknown-command", "frobnicate", 2, "frobnicate"),
    case("models-prepare-unknown", "models prepare nosuch", 2, "nosuch"),
    case("models-path-unknown", "models path nosuch", 2, "nosuch"),
    case("models-path-not-prepared", "models path smollm2", 1, "smollm2", "not prepared"),
    # bench validate: the report is the output (stdout), one line per problem, every file
    case("validate-missing", "bench validate {f}/nothere.jsonl", 1, "nothere.jsonl: not found"),
    case("validate-directory", "bench validate {f}/a_dir", 1, "a_dir: is a directory"),
    case("validate-fifo", "bench validate {f}/a_fifo", 1, "a_fifo: is not a regular file"),
    case("validate-not-utf8", "bench validate {f}/bad_utf8.jsonl", 1, "bad_utf8.jsonl:1: <encoding>: not valid UTF-8"),
    case("validate-all-files", "bench validate {f}/bad_utf8.jsonl {f}/bad_record.jsonl {f}/nothere.jsonl", 1,
         "bad_utf8.jsonl:1:", "bad_record.jsonl:1: dimension:", "nothere.jsonl: not found"),
    case("validate-deep-nesting", "bench validate {f}/deep.jsonl", 1, "deep.jsonl:1: <json>: nested too deeply"),
    case("validate-lone-surrogate", "bench validate {f}/surrogate.jsonl", 1, "surrogate.jsonl:1: constraints.intent: contains a lone surrogate"),
    case("validate-too-long", "bench validate {f}/long.jsonl", 1, "long.jsonl:1: original: is 25,000 characters"),
    case("validate-nan", "bench validate {f}/nan.jsonl", 1, "nan.jsonl:1: <json>: NaN is not a JSON number"),
    case("validate-empty", "bench validate {f}/empty.jsonl", 1, "empty.jsonl:0: <file>: no records"),
    # bench stats, audit
    case("stats-all-files", "bench stats {f}/bad_record.jsonl {f}/bad_utf8.jsonl", 1,
         "cqa bench stats: error: ", "bad_record.jsonl:1: dimension", "bad_utf8.jsonl:1: <encoding>"),
    case("stats-directory", "bench stats {f}/a_dir", 1, "a_dir", "is a directory"),
    case("audit-band-order", "bench audit {f}/good.jsonl --cell-band 0.7 0.2", 2, "cqa bench audit: error: --cell-band"),
    case("audit-band-nan", "bench audit {f}/good.jsonl --group-band nan 0.5", 2, "--group-band", "finite"),
    case("audit-batch-zero", "bench audit {f}/good.jsonl --batch-size 0", 2, "--batch-size"),
    case("audit-worst-negative", "bench audit {f}/good.jsonl --worst -1", 2, "--worst"),
    case("audit-reader-missing", "bench audit {f}/good.jsonl --reader {f}/no_model", 1, "no_model", "model directory not found"),
    case("audit-reader-dtype", "bench audit {f}/good.jsonl --reader smollm2@int8", 2, "--reader", "int8"),
    case("audit-from-run-unknown-reader", "bench audit {f}/good.jsonl --from-run x={f}/runs/ok_a", 2, "--from-run"),
    case("audit-json-directory", "bench audit {f}/good.jsonl --json {f}/a_dir", 2, "a_dir", "--json"),
    case("audit-json-under-file", "bench audit {f}/good.jsonl --json {f}/a_file/out.json", 2, "a_file/out.json", "--json"),
    case("audit-bad-file-and-option", "bench audit {f}/bad_utf8.jsonl --json {f}/a_dir", 2, "bad_utf8.jsonl:1", "--json"),
    # score: everything is checked before the model would load
    case("score-model-missing", "score --model {f}/no_model {f}/good.jsonl", 1, "no_model", "model directory not found"),
    case("score-model-is-file", "score --model {f}/a_file {f}/good.jsonl", 1, "a_file", "not a model directory"),
    case("score-model-no-config", "score --model {f}/a_dir {f}/good.jsonl", 1, "a_dir", "no config.json"),
    case("score-bad-file", "score --model {f}/fake_model {f}/bad_utf8.jsonl {f}/bad_record.jsonl", 1,
         "bad_utf8.jsonl:1", "bad_record.jsonl:1"),
    case("score-limit-zero", "score --model {f}/fake_model --limit 0 {f}/good.jsonl", 2, "--limit"),
    case("score-limit-negative", "score --model {f}/fake_model --limit -1 {f}/good.jsonl", 2, "--limit"),
    case("score-batch-zero", "score --model {f}/fake_model --batch-size 0 {f}/good.jsonl", 2, "--batch-size"),
    case("score-dtype", "score --model {f}/fake_model --dtype int4 {f}/good.jsonl", 2, "--dtype"),
    case("score-nothing", "score --model {f}/fake_model", 2, "ITEMS"),
    case("score-empty-text", ["score", "--model", "{f}/fake_model", "--text", " "], 2, "--text", "empty"),
    case("score-text-and-items", "score --model {f}/fake_model --text x {f}/good.jsonl", 2, "--text"),
    case("score-intent-without-text", "score --model {f}/fake_model --intent y {f}/good.jsonl", 2, "--intent"),
    # train run: recipes (files and overrides), outputs, data, base model
    case("train-yaml-list", "train {f}/list.yaml", 1, "list.yaml", "YAML mapping"),
    case("train-yaml-invalid", "train {f}/invalid.yaml", 1, "invalid.yaml:3:", "not valid YAML"),
    case("train-yaml-not-utf8", "train {f}/latin1.yaml", 1, "latin1.yaml:1: <encoding>"),
    case("train-yaml-bad-values", "train {f}/bad_values.yaml", 1, "bad_values.yaml: epochs", "bad_values.yaml: lr",
         "bad_values.yaml: lora.rank"),
    case("train-epochs-fraction", "train cqa_cot epochs=1.5", 2, "cqa train: error: epochs=1.5: epochs must be a positive integer"),
    case("train-lr-negative", "train cqa_cot lr=-5", 2, "lr=-5: lr must be in (0, 1]"),
    case("train-lr-nan", "train cqa_cot lr=nan", 2, "lr=nan: lr must be a finite number"),
    case("train-lr-inf", "train cqa_cot lr=.inf", 2, "lr=.inf"),
    case("train-rank-zero", "train cqa_cot lora.rank=0", 2, "lora.rank=0: lora.rank must be a positive integer"),
    case("train-rank-negative", "train cqa_cot lora.rank=-3", 2, "lora.rank=-3"),
    case("train-dropout", "train cqa_cot lora.dropout=2", 2, "lora.dropout=2"),
    case("train-warmup", "train cqa_cot warmup_ratio=7", 2, "warmup_ratio=7"),
    case("train-chat-template", "train cqa_cot chat_template=bogus", 2, "chat_template=bogus", "auto, none, required"),
    case("train-all-overrides", "train cqa_cot epochs=1.5 lr=nan lora.rank=0 seed=-1", 2, "epochs=1.5", "lr=nan",
         "lora.rank=0", "seed=-1"),
    case("train-not-key-value", "train cqa_cot epochs", 2, "not key=value"),
    case("train-override-bad-yaml", "train cqa_cot data=[a", 2, "data=[a"),
    case("train-name-path", "train cqa_cot name=../up", 2, "name=../up"),
    case("train-output-is-file", "train cqa_cot output_dir={f}/a_file max_steps=1", 2, "a_file", "output_dir"),
    case("train-bad-data", "train cqa_cot data=[{f}/bad_bc.jsonl] output_dir={f}/run", 1, "bad_bc.jsonl:2: reasoning[0].aspect"),
    case("train-all-data-files", "train cqa_cot data=[{f}/bad_bc_utf8.jsonl,{f}/nothere.jsonl] output_dir={f}/run", 1,
         "bad_bc_utf8.jsonl:", "nothere.jsonl"),
    case("train-data-directory", "train cqa_cot data=[{f}/a_dir] output_dir={f}/run", 1, "a_dir", "is a directory"),
    case("train-base-missing", "train cqa_cot base_model={f}/no_model output_dir={f}/run", 1, "no_model"),
    case("train-recipe-unknown", "train nosuch_recipe", 1, "nosuch_recipe"),
    case("train-recipe-directory", "train run {f}/a_dir", 1, "a_dir", "is a directory"),
    case("train-stop-after-zero", "train cqa_cot --stop-after-epoch 0", 2, "--stop-after-epoch"),
    # train validate, coverage
    case("train-validate-not-utf8", "train validate {f}/bad_bc_utf8.jsonl", 1, "bad_bc_utf8.jsonl:", "<encoding>"),
    case("train-validate-all-files", "train validate {f}/a_dir {f}/nothere.jsonl {f}/bad_bc.jsonl", 1,
         "a_dir: is a directory", "nothere.jsonl: not found", "bad_bc.jsonl:2:"),
    case("coverage-json-directory", "train coverage bc_protocol_v1.jsonl --plot {f}/cov.png --json {f}/a_dir", 2,
         "a_dir", "--json"),
    case("coverage-plot-format", "train coverage bc_protocol_v1.jsonl --plot {f}/cov.txt", 2, "cov.txt", "--plot"),
    case("coverage-bad-file", "train coverage {f}/bad_bc.jsonl --json {f}/cov.json", 1, "bad_bc.jsonl:2"),
    # compare
    case("compare-results-array", "compare {f}/runs/ok_b --reference {f}/runs/array_run -o {f}/cmp", 1,
         "array_run/results_2026-12-06T01-00-00.000000.json", "not an lm-eval results file"),
    case("compare-results-deep", "compare {f}/runs/ok_b --reference {f}/runs/deep_run -o {f}/cmp", 1, "deep_run"),
    case("compare-out-is-file", "compare {f}/runs/ok_b --reference {f}/runs/ok_a -o {f}/a_file", 2, "a_file", "-o"),
    case("compare-resamples-zero", "compare {f}/runs/ok_b --reference {f}/runs/ok_a --resamples 0", 2, "--resamples"),
    case("compare-seed-negative", "compare {f}/runs/ok_b --reference {f}/runs/ok_a --seed -1", 2, "--seed"),
    case("compare-nan-value", "compare {f}/runs/nan_run --reference {f}/runs/ok_a -o {f}/cmp", 1,
         "nan_run/samples_cqa_creative_en_", ".jsonl:1: cqa_item.delta_i: item", "not a finite number"),
    case("compare-text-value", "compare {f}/runs/text_run --reference {f}/runs/ok_a -o {f}/cmp", 1,
         "text_run/samples_cqa_creative_en_", "'abc'"),
    case("compare-samples-not-utf8", "compare {f}/runs/utf8_run --reference {f}/runs/ok_a -o {f}/cmp", 1,
         "utf8_run/samples_cqa_creative_en_", ":1: <encoding>"),
    case("compare-all-runs", "compare {f}/runs/no_run {f}/runs/empty_run --reference {f}/runs/array_run -o {f}/cmp", 1,
         "no_run", "empty_run", "array_run"),
    # leaderboard
    case("leaderboard-out-is-file", "leaderboard {f}/runs -o {f}/a_file", 2, "a_file", "-o"),
    case("meta-eval-missing-dir", "meta-eval {f}/no_run -o {f}/me", 1, "no_run"),
    case("meta-eval-validate-not-json", "meta-eval validate ratings {f}/not_json.jsonl", 1, "not_json.jsonl:1"),
    case("meta-eval-validate-bad-utf8", "meta-eval validate pairs {f}/bad_utf8.jsonl", 1, "bad_utf8.jsonl"),
    case("meta-eval-validate-missing", "meta-eval validate ratings {f}/no_such.jsonl", 1, "no_such.jsonl"),
    case("leaderboard-out-under-file", "leaderboard {f}/runs -o {f}/a_file/board", 2, "a_file/board"),
    case("leaderboard-missing-dirs", "leaderboard {f}/no_run {f}/no_run2 -o {f}/board", 1, "no_run:", "no_run2:"),
    case("leaderboard-no-results", "leaderboard {f}/runs/empty_run -o {f}/board", 1, "empty_run"),
    # tokens
    case("tokens-models-missing", "tokens x --before {f}/no_model --after {f}/no_model2", 1, "no_model:", "no_model2:"),
    case("tokens-data-not-utf8", "tokens x --before {f}/fake_model --after {f}/fake_model --data {f}/bad_utf8.jsonl", 1,
         "bad_utf8.jsonl:1"),
    case("tokens-unknown-id", "tokens nosuch-id --before {f}/fake_model --after {f}/fake_model --data {f}/good.jsonl", 1,
         "good.jsonl", "nosuch-id"),
    case("tokens-labels", "tokens t-lit-en-1 --before {f}/fake_model --after {f}/fake_model --data {f}/good.jsonl --labels one",
         2, "--labels"),
    case("tokens-out-directory", "tokens t-lit-en-1 --before {f}/fake_model --after {f}/fake_model --data {f}/good.jsonl "
         "-o {f}/a_dir", 2, "a_dir", "-o"),
    case("tokens-dtype", "tokens x --before {f}/fake_model --after {f}/fake_model --dtype int4", 2, "--dtype"),
    # study: every option and recipe, before anything is written
    case("study-metadata-not-json", ["study", "--metadata", "{bad"], 2, "--metadata", "not valid JSON"),
    case("study-metadata-not-object", ["study", "--metadata", "[1]"], 2, "--metadata", "JSON object"),
    case("study-metadata-bad-data", ["study", "--metadata", '{"data": "{f}/bad_utf8.jsonl"}'], 1, "bad_utf8.jsonl:1"),
    case("study-epochs-zero", "study --epochs 0", 2, "--epochs"),
    case("study-eval-epochs-text", "study --eval-epochs last", 2, "--eval-epochs"),
    case("study-eval-epochs-range", "study --epochs 2 --eval-epochs 9", 2, "--eval-epochs", "[9]"),
    case("study-name-path", "study --name ../up", 2, "--name"),
    case("study-out-is-file", "study --out {f}/a_file", 2, "a_file", "--out"),
    case("study-bad-override", "study --set lora.rank=0", 2, "lora.rank=0"),
    case("study-recipe-unknown", "study --recipes cqa_cot,nosuch", 1, "nosuch"),
    case("study-limit-zero", "study --limit 0", 2, "--limit"),
]


def interrupt(target: str, attribute: str) -> Callable:
    """A patch that makes `target.attribute` raise KeyboardInterrupt (Ctrl-C) when called."""

    def patch(monkeypatch) -> None:
        import importlib

        def ctrl_c(*args, **kwargs):
            raise KeyboardInterrupt

        monkeypatch.setattr(importlib.import_module(target), attribute, ctrl_c)

    return patch


INTERRUPT_CASES = [
    # Ctrl-C after some outputs were already rendered: exit 130, one line, nothing left (not even the dir)
    case("ctrl-c-leaderboard", "leaderboard {f}/runs/ok_a {f}/runs/ok_b -o {f}/board", 130, "cqa leaderboard: interrupted",
         patch=interrupt("leaderboard.build", "to_html")),
    case("ctrl-c-compare", "compare {f}/runs/ok_b --reference {f}/runs/ok_a -o {f}/cmp --resamples 50", 130,
         "cqa compare: interrupted", patch=interrupt("leaderboard.compare_report", "render_markdown")),
    case("ctrl-c-coverage", "train coverage bc_protocol_v1.jsonl --plot {f}/cov.png --json {f}/out/cov.json", 130,
         "cqa train coverage: interrupted", patch=interrupt("json", "dumps")),
]
