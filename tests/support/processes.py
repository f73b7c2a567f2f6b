"""Running `duban` as its own process, or in this one as if it were: the executable, the
environment it is given and a free port of 127.0.0.1 to serve on."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

from tests.support.paths import EXAMPLE_CONFIG

DUBAN = Path(sys.executable).parent / "duban"


def environment(db_url: str, config: Path = EXAMPLE_CONFIG, **overrides: str) -> dict[str, str]:
    """This process's environment without the shell's DUBAN_ variables, with the test
    database and the configuration file (the example one unless told), then `overrides`."""
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("DUBAN_")}
    return env | {"DUBAN_DATABASE__URL": db_url, "DUBAN_CONFIG": str(config)} | overrides


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
