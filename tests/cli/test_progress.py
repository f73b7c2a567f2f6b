"""Progress bars (bot/cli/support.py `progress_bar`): on a terminal only. `duban` runs as its
own process with its output on a pseudo-terminal, then into a pipe."""

from __future__ import annotations

import os
import pty
import subprocess
from pathlib import Path

import pytest

from tests.support.cli import make_duban, succeeds
from tests.support.paths import SAMPLE, SAMPLE_UNITS
from tests.support.processes import DUBAN, environment

pytestmark = pytest.mark.slow  # real processes

WEEK = ("simulate", "--from", "2020-09-21", "--to", "2020-09-25")


def on_a_terminal(args: tuple[str, ...], env: dict[str, str]) -> str:
    """What a user at a terminal sees (stdout on a pseudo-terminal)."""
    leader, follower = pty.openpty()
    with subprocess.Popen([DUBAN, *args], stdout=follower, stderr=subprocess.PIPE, env=env) as run:
        os.close(follower)
        seen = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the process ended and closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        run.wait(timeout=120)
    os.close(leader)
    assert run.returncode == 0
    return seen.decode("utf-8", "replace")


def test_simulate_shows_a_progress_bar_on_a_terminal_and_none_in_a_pipe(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'duban.db'}"
    succeeds(make_duban(url)("import", SAMPLE, "--at", "2020-01-01T09:00"))
    env = environment(
        url, DUBAN_DIRECTORY__PATH=str(SAMPLE_UNITS), DUBAN_PLAN__SAMPLE=str(SAMPLE), COLUMNS="100"
    )
    assert "模拟中" in on_a_terminal(WEEK, env)
    piped = subprocess.run([DUBAN, *WEEK], capture_output=True, env=env, timeout=120, check=True)
    assert "模拟中" not in piped.stdout.decode()
    assert "模拟中" not in piped.stderr.decode()
    assert "发送消息" in piped.stdout.decode()
