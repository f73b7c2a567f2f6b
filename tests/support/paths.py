"""Where the project's files are: the repository root, the sample plan and directory, and
the example configuration."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "zhoushan-2020-key-tasks.txt"
SAMPLE_UNITS = ROOT / "examples" / "zhoushan-units.toml"
EXAMPLE_CONFIG = ROOT / "config.example.toml"
