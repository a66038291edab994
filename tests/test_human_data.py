"""Human-judged data files: one clear `file:line: field: message` per problem, and the foreign prompts."""

import json

import pytest

from cqa_tasks import human_data, prompts
from cqa_tasks.schema import BenchDataError


def _pair(i: int, **extra) -> dict:
    return {"id": f"p{i}", "prompt": f"Write about the sea, take {i}.", "chosen": f"The tide came in, {i}.",
            "rejected": f"Sea is water {i}."} | extra  # fmt: skip


def _rating(i: int, **extra) -> dict:
    return {"id": f"r{i}", "prompt": "A story about a lighthouse.", "text": f"The keeper lit the lamp {i} times.",
            "human": {"coherence": i % 3, "surprise": 1.5 + i}} | extra  # fmt: skip


def _lines(*objs) -> list[str]:
    return [o if isinstance(o, str) else json.dumps(o, ensure_ascii=False) for o in objs]


def test_good_files_have_no_problems():
    records, used, problems = human_data.check_lines(_lines(_pair(1), _pair(2, lang="zh", chosen="潮水来了。",
                                                                           rejected="海是水。")), "p.jsonl", "pairs")  # fmt: skip
    assert len(records) == 2 and used == [] and problems == []
    records, used, problems = human_data.check_lines(_lines(_rating(1), _rating(2, meta={"k": 1})), "r.jsonl", "ratings")
    assert len(records) == 2 and used == ["coherence", "surprise"] and problems == []


def test_bad_pairs_get_one_line_each():
    lines = _lines(
        _pair(1),
        "{not json",
        ["a", "list"],
        {k: v for k, v in _pair(4).items() if k != "chosen"},
        _pair(5, prompt="  "),
        _pair(6, rejected="The tide came in, 6."),
        _pair(7, lang="fr"),
        _pair(1),
        _pair(9, lang="zh"),
    )
    _, _, problems = human_data.check_lines(lines, "p.jsonl", "pairs")
    assert [str(p) for p in problems] == [
        "p.jsonl:2: <json>: not valid JSON (Expecting property name enclosed in double quotes at column 2)",
        "p.jsonl:3: <record>: expected a JSON object, got list",
        "p.jsonl:4: chosen: missing required field",
        "p.jsonl:5: prompt: must be a non-empty string",
        "p.jsonl:6: rejected: identical to chosen: the pair cannot tell any score apart",
        "p.jsonl:7: lang: 'fr' is not one of en, zh",
        "p.jsonl:8: id: duplicate id 'p1' (first on line 1)",
        "p.jsonl:9: chosen: warning: lang is zh but the text has no CJK characters",
        "p.jsonl:9: rejected: warning: lang is zh but the text has no CJK characters",
    ]


def test_bad_ratings_get_one_line_each():
    lines = _lines(
        _rating(1),
        _rating(2, human={"coherence": "4", "surprise": 2}),
        _rating(3, human={"coherence": True, "surprise": 2}),
        _rating(4, human={"coherence": 1, "surprise": 2, "my score": 3}),
        _rating(5, human={}),
        {k: v for k, v in _rating(6).items() if k != "human"},
        _rating(7, text=17),
    )
    _, _, problems = human_data.check_lines(lines, "r.jsonl", "ratings")
    assert [str(p) for p in problems] == [
        "r.jsonl:2: human.coherence: must be a finite number, got '4'",
        "r.jsonl:3: human.coherence: must be a finite number, got True",
        "r.jsonl:4: human.my score: criterion names are letters, digits, _ . - (no spaces, ':' or ',')",
        "r.jsonl:5: human: must be a non-empty object {criterion: number}",
        "r.jsonl:6: human: missing required field",
        "r.jsonl:7: text: must be a non-empty string",
    ]


def test_criteria_asked_for_must_be_in_every_record():
    lines = _lines(_rating(1), _rating(2, human={"coherence": 2}), _rating(3))
    _, used, problems = human_data.check_lines(lines, "r.jsonl", "ratings", ["coherence", "surprise"])
    assert used == ["coherence", "surprise"]
    assert [str(p) for p in problems] == ["r.jsonl:2: human.surprise: missing (a criterion asked for in criteria)"]
    # by default: the criteria every record has; the others are named in a warning
    _, used, problems = human_data.check_lines(lines, "r.jsonl", "ratings")
    assert used == ["coherence"]
    assert [str(p) for p in problems] == [
        "r.jsonl:0: human.surprise: warning: in 2 of 3 records: left out (name it in criteria to see which records lack it)"
    ]
    _, _, problems = human_data.check_lines(_lines(_rating(1, human={"a": 1}), _rating(2, human={"b": 1})), "r.jsonl", "ratings")
    assert "r.jsonl:0: human: no criterion is present in every record" in [str(p) for p in problems]
    _, _, problems = human_data.check_lines(_lines(_rating(1)), "r.jsonl", "ratings")
    assert [str(p) for p in problems] == ["r.jsonl:0: <file>: a ratings file needs at least 2 records to rank"]


def test_parse_criteria():
    assert human_data.parse_criteria(None) is None
    assert human_data.parse_criteria("coherence, surprise") == ["coherence", "surprise"]
    assert human_data.parse_criteria(["relevance"]) == ["relevance"]
    for bad in ("a:b", ["a", "a"], [3], "x y"):
        with pytest.raises(ValueError, match="criteri"):
            human_data.parse_criteria(bad)


def test_load_raises_naming_the_first_problem(tmp_path):
    bad = tmp_path / "pairs.jsonl"
    bad.write_text("\n".join(_lines(_pair(1), _pair(2, chosen=""), _pair(3, rejected=None))) + "\n", encoding="utf-8")
    with pytest.raises(BenchDataError) as err:
        human_data.load(bad, "pairs")
    assert str(err.value).startswith(f"{bad}:2: chosen: must be a non-empty string (and 1 more;")
    assert "cqa meta-eval validate pairs" in str(err.value)
    good = tmp_path / "good.jsonl"
    good.write_text("\n".join(_lines(_rating(1, extra="kept out"), _rating(2))) + "\n", encoding="utf-8")
    records, used, path = human_data.load(good, "ratings", ["surprise"])
    assert path == good and used == ["surprise"]
    assert records[0] == {"id": "r1", "prompt": "A story about a lighthouse.", "text": "The keeper lit the lamp 1 times.",
                          "lang": "en", "human": {"surprise": 2.5}}  # fmt: skip


def test_foreign_prompts_pair_distinct_prompts_deterministically():
    # 3 prompts (A, B, C by their first id), 2 texts each, listed out of order; one zh record alone
    rows = [("t5", "C"), ("t0", "A"), ("t3", "B"), ("t1", "A"), ("t2", "B"), ("t4", "C")]
    records = [{"id": i, "prompt": p, "lang": "en"} for i, p in rows] + [{"id": "z0", "prompt": "甲", "lang": "zh"}]
    out = {r["id"]: r for r in prompts.with_foreign_prompts(records)}
    # m = 3 prompts: k -> k + 1: A borrows B, B borrows C, C borrows A; texts of one prompt share Y'
    assert {i: (out[i]["foreign_prompt"], out[i]["foreign_id"]) for i in ("t0", "t1", "t2", "t3", "t4", "t5")} == {
        "t0": ("B", "t2"), "t1": ("B", "t2"), "t2": ("C", "t4"), "t3": ("C", "t4"), "t4": ("A", "t0"), "t5": ("A", "t0"),
    }  # fmt: skip
    assert out["z0"]["foreign_prompt"] is None and out["z0"]["foreign_id"] is None
    again = {r["id"]: r["foreign_id"] for r in prompts.with_foreign_prompts(list(reversed(records)))}
    assert again == {i: r["foreign_id"] for i, r in out.items()}
    # one prompt per record: the record rule k -> k + n//2 over records sorted by id
    single = [{"id": f"q{k}", "prompt": f"P{k}", "lang": "en"} for k in range(5)]
    assert [r["foreign_id"] for r in prompts.with_foreign_prompts(single)] == ["q2", "q3", "q4", "q0", "q1"]


def test_pair_requests_share_the_header_and_the_continuation():
    doc = prompts.with_foreign_prompts([_pair(1) | {"lang": "en"}, _pair(2) | {"lang": "en"}])[0]
    reqs = prompts.human_pair_requests(doc)
    assert [c for c, _ in reqs] == [
        "Writing prompt: Write about the sea, take 1.\n\nPassage:", "Passage:",
        "Writing prompt: Write about the sea, take 1.\n\nPassage:", "Passage:",
        "Writing prompt: Write about the sea, take 2.\n\nPassage:", "Writing prompt: Write about the sea, take 2.\n\nPassage:",
    ]  # fmt: skip
    assert [x for _, x in reqs] == ["\nThe tide came in, 1.", "\nThe tide came in, 1.", "\nSea is water 1.",
                                    "\nSea is water 1.", "\nThe tide came in, 1.", "\nSea is water 1."]  # fmt: skip
    assert prompts.text_requests("题目", None, "zh", "正文") == [("写作题目：题目\n\n正文：", "\n正文"), ("正文：", "\n正文")]
