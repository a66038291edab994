"""CQA-Bench task configurations (YAML) and data, scanned by lm-eval as a task directory."""
