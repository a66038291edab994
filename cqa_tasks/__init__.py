"""cqa_tasks: the Calibrated Surprise metric and CQA-Bench tasks for lm-evaluation-harness.

Kept import-free on purpose: the lm-eval task-discovery backport imports a submodule of this
package at every interpreter start (via a .pth file), so nothing heavy may run here.
"""

__version__ = "0.1.0"
