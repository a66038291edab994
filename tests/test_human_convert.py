"""`cqa meta-eval convert`: HANNA-shaped annotation files and `--map`, on small synthetic files."""

import csv
import io
import json

import pytest

from cqa_tasks import human_data
from leaderboard import human_convert as hc
from leaderboard import meta_eval

HEADER = ["", "Story ID", "Prompt", "Human", "Story", "Model", "Relevance", "Coherence", "Empathy", "Surprise",
          "Engagement", "Complexity", "Worker ID"]  # fmt: skip
# Two stories, three raters each; story 7's text spans two lines (a quoted CSV field).
ROWS = [
    [0, 7, "A lamp that hums.", "h", "The lamp hummed.\nNobody slept.", "GPT-2", 4, 3, 2, 5, 3, 1, "w1"],
    [1, 7, "A lamp that hums.", "h", "The lamp hummed.\nNobody slept.", "GPT-2", 5, 3, 3, 4, 3, 2, "w2"],
    [2, 7, "A lamp that hums.", "h", "The lamp hummed.\nNobody slept.", "GPT-2", 3, 2, 2, 4, 2, 1, "w3"],
    [3, 12, "A bridge of paper.", "h", "They folded it for years.", "Human", 2, 4, 4, 1, 5, 3, "w1"],
    [4, 12, "A bridge of paper.", "h", "They folded it for years.", "Human", 2, 5, 4, 2, 4, 3, "w4"],
    [5, 12, "A bridge of paper.", "h", "They folded it for years.", "Human", 3, 5, 5, 2, 4, 4, "w5"],
]


def _csv(rows, header=HEADER) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue()


def test_hanna_csv_averages_raters_per_story(tmp_path):
    path = tmp_path / "hanna.csv"
    path.write_text(_csv(list(reversed(ROWS))), encoding="utf-8")
    records, problems = hc.convert_hanna(hc.read_rows(path), str(path))
    assert problems == []
    assert [r["id"] for r in records] == ["hanna-7", "hanna-12"]  # by story id, as numbers
    first = records[0]
    assert first["prompt"] == "A lamp that hums." and first["text"] == "The lamp hummed.\nNobody slept."
    assert first["human"] == pytest.approx({"relevance": 4.0, "coherence": 8 / 3, "empathy": 7 / 3, "surprise": 13 / 3,
                                            "engagement": 8 / 3, "complexity": 4 / 3})  # fmt: skip
    assert first["meta"] == {"model": "GPT-2", "story_id": 7, "n_raters": 3,
                             "raters": {"relevance": [3.0, 5.0, 4.0], "coherence": [2.0, 3.0, 3.0], "empathy": [2.0, 3.0, 2.0],
                                        "surprise": [4.0, 4.0, 5.0], "engagement": [2.0, 3.0, 3.0],
                                        "complexity": [1.0, 2.0, 1.0]}}  # fmt: skip
    # the output is what the ratings task reads
    lines = [json.dumps(r) for r in records]
    valid, used, found = human_data.check_lines(lines, "out.jsonl", "ratings")
    assert len(valid) == 2 and used == list(hc.HANNA_CRITERIA) and found == []


def test_hanna_json_forms_give_the_same_records(tmp_path):
    path = tmp_path / "hanna.csv"
    path.write_text(_csv(ROWS), encoding="utf-8")
    expected, _ = hc.convert_hanna(hc.read_rows(path), str(path))
    as_rows = [dict(zip(HEADER, row, strict=True)) for row in ROWS]
    array = tmp_path / "rows.json"
    array.write_text(json.dumps(as_rows), encoding="utf-8")
    columns = tmp_path / "columns.json"  # pandas' default DataFrame.to_json layout
    columns.write_text(json.dumps({h: {str(k): row[h] for k, row in enumerate(as_rows)} for h in HEADER}), encoding="utf-8")
    lines = tmp_path / "rows.jsonl"
    lines.write_text("".join(json.dumps(r) + "\n" for r in as_rows), encoding="utf-8")
    for path in (array, columns, lines):
        assert hc.convert_hanna(hc.read_rows(path), str(path)) == (expected, []), path.name


def test_hanna_problems_name_file_line_and_column(tmp_path):
    rows = [list(r) for r in ROWS]
    rows[1][7] = "three"  # a score that is not a number (line 4: row 1 starts after story 7's 2-line row)
    rows[2][4] = "Another story."  # a rater row whose story differs
    rows[3][1] = "x12"
    path = tmp_path / "hanna.csv"
    path.write_text(_csv(rows), encoding="utf-8")
    _, problems = hc.convert_hanna(hc.read_rows(path), str(path))
    assert [str(p) for p in problems] == [
        f"{path}:4: Coherence: must be a number, got 'three'",
        f"{path}:6: Story: differs from story 7's first row (line 2)",
        f"{path}:7: Story ID: must be an integer, got 'x12'",
    ]
    other = tmp_path / "other.csv"
    other.write_text("id,text\n1,hello\n", encoding="utf-8")
    _, problems = hc.convert_hanna(hc.read_rows(other), str(other))
    assert [str(p) for p in problems] == [f"{other}:2: <columns>: not a HANNA annotation file: no column story id, prompt, "
                                          "story, a criterion (relevance, coherence, empathy, surprise, engagement, complexity)"]  # fmt: skip


def test_map_renames_fields_for_pairs_and_ratings(tmp_path):
    src = tmp_path / "prefs.jsonl"
    rows = [
        {"uid": 1, "meta": {"question": "Write a haiku about rain."}, "response_a": "Rain on tin roofs sings.", "response_b": "Rain."},
        {"uid": 2, "meta": {"question": "Describe a market."}, "response_a": "Oranges shouted.", "response_b": "A market."},
    ]  # fmt: skip
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    mapping = hc.parse_map("id=uid, prompt=meta.question, chosen=response_a, rejected=response_b", "pairs")
    records, problems = hc.convert_mapped(hc.read_rows(src), str(src), "pairs", mapping)
    assert problems == []
    assert records[0] == {"id": "1", "prompt": "Write a haiku about rain.", "chosen": "Rain on tin roofs sings.",
                          "rejected": "Rain."}  # fmt: skip
    # ratings: human.<criterion>=field; rows without an id get <file stem>-<line>
    table = tmp_path / "scores.csv"
    table.write_text("wp,story,coh\nA fox.,The fox ran.,3\nA owl.,The owl sat.,4.5\n", encoding="utf-8")
    records, problems = hc.convert_mapped(hc.read_rows(table), str(table), "ratings",
                                          hc.parse_map("prompt=wp,text=story,human.coherence=coh", "ratings"))  # fmt: skip
    assert problems == []
    assert [r["id"] for r in records] == ["scores-2", "scores-3"]
    assert records[1]["human"] == {"coherence": 4.5}  # CSV text that is a number becomes one
    for bad in ("chosen", "chosen=", "winner=a", "human.x=y"):
        with pytest.raises(ValueError, match="--map"):
            hc.parse_map(bad, "pairs")


def test_map_problems_name_the_source_field(tmp_path):
    src = tmp_path / "prefs.jsonl"
    rows = [{"q": "P", "a": "", "b": "text"}, {"q": "P", "a": "x", "b": "y", "id": "same"}, {"q": "P", "a": "x2", "b": "y", "id": "same"}]
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    _, problems = hc.convert_mapped(hc.read_rows(src), str(src), "pairs", hc.parse_map("prompt=q,chosen=a,rejected=b", "pairs"))
    assert [str(p) for p in problems] == [
        f"{src}:1: chosen (from a): must be a non-empty string",
        f"{src}:3: id: duplicate id 'same' (first on line 2)",
    ]


def test_convert_command_writes_only_clean_files(tmp_path, capsys):
    good = tmp_path / "hanna.csv"
    good.write_text(_csv(ROWS), encoding="utf-8")
    out = tmp_path / "ratings.jsonl"
    assert meta_eval.main(["convert", "hanna", str(good), "-o", str(out)]) == 0
    assert "wrote 2 records" in capsys.readouterr().err
    assert meta_eval.main(["validate", "ratings", str(out)]) == 0
    rows = [list(r) for r in ROWS]
    rows[0][6] = ""
    bad = tmp_path / "bad.csv"
    bad.write_text(_csv(rows), encoding="utf-8")
    out2 = tmp_path / "never.jsonl"
    assert meta_eval.main(["convert", "hanna", str(bad), "-o", str(out2)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:2: Relevance: must be a number, got ''" in err and "nothing written" in err
    assert not out2.exists()
    pairs = tmp_path / "p.jsonl"
    pairs.write_text(json.dumps({"id": "a", "q": "P", "x": "one", "y": "two"}) + "\n", encoding="utf-8")
    out3 = tmp_path / "pairs.jsonl"
    assert meta_eval.main(["convert", "pairs", str(pairs), "--map", "prompt=q,chosen=x,rejected=y", "-o", str(out3)]) == 0
    assert json.loads(out3.read_text(encoding="utf-8")) == {"id": "a", "prompt": "P", "chosen": "one", "rejected": "two"}
