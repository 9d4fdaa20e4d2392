"""``locker edge`` as an installer meets it: clear refusals before anything runs."""

from __future__ import annotations

from pathlib import Path

from tests.controller.conftest import config_text
from tests.locker_cli.conftest import Locker


def test_a_missing_port_is_one_line_and_exit_1(locker: Locker, tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(config_text("/dev/serial/by-id/not-plugged-in", tmp_path / "edge.db"))
    done = locker("edge", "--config", str(path))
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        "error: /dev/serial/by-id/not-plugged-in: cannot open: ENOENT: device missing or unplugged"
    )


def test_the_example_config_is_valid(locker: Locker) -> None:
    example = Path(__file__).parents[2] / "docs" / "examples" / "edge.toml"
    done = locker("edge", "--config", str(example), "couriers", "--help")
    assert done.returncode == 0, done.stderr
