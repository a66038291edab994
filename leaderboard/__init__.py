"""CQA-Bench leaderboard: lm-eval output dirs in; Markdown, CSV, JSON and one offline HTML page out.

Pure Python (no torch, no lm_eval import): it reads lm-eval's files, so it runs anywhere,
including on results copied from other machines.
"""

from leaderboard.build import BuildSummary, NoResultsError, build

__all__ = ["BuildSummary", "NoResultsError", "build"]
