"""Factories for test inputs: plan documents, directories and raw tasks."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from bot.intake.directory import Directory, DirectoryFile
from bot.intake.model import RawTask


def write_plan(folder: Path, text: str, name: str = "plan.txt") -> Path:
    """Writes a plan document (dedented) and returns its path."""
    path = folder / name
    path.write_text(textwrap.dedent(text).strip() + "\n", encoding="utf-8")
    return path


def make_directory(**sections: Any) -> Directory:
    """A unit directory from the same mapping the TOML file holds."""
    return Directory.build(DirectoryFile.model_validate(sections))


def make_raw_task(**overrides: Any) -> RawTask:
    values: dict[str, Any] = {
        "number": "1",
        "text": "新增公共停车位 1000 个。",
        "leads": ("市住建局",),
        "co_units": ("市财政局",),
    }
    return RawTask(**{**values, **overrides})
