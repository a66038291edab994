"""Location of the Hugging Face `evaluate` module shipped with cqa (load it with `evaluate.load`)."""

from pathlib import Path


def module_path() -> str:
    """Directory of the `calibrated_surprise` evaluate module, for `evaluate.load(module_path())`."""
    return str(Path(__file__).parent / "calibrated_surprise")
