"""``locker edge`` as an installer meets it: clear refusals before anything runs."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from typer.testing import CliRunner

from controller.config import ConfigError, load_config
from locker_cli.main import app
from locker_contract.vocabulary import CONSENTS
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


EDGE_COMMANDS = [
    [],
    ["expect"],
    ["parcels"],
    ["maintenance"],
    ["keypad"],
    ["commission"],
    ["couriers"],
    ["couriers", "add"],
    ["couriers", "list"],
    ["couriers", "revoke"],
]


@pytest.mark.parametrize("command", EDGE_COMMANDS, ids=lambda c: " ".join(c) or "edge")
def test_help_never_needs_the_config(
    command: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no edge.toml here
    monkeypatch.delenv("LOCKER_EDGE_CONFIG", raising=False)
    done = CliRunner().invoke(app, ["edge", *command, "--help"])
    assert done.exit_code == 0, done.output
    assert "Usage:" in done.output
    assert not (tmp_path / "edge.db").exists()


def test_a_command_still_refuses_a_missing_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("LOCKER_EDGE_CONFIG", raising=False)
    done = CliRunner().invoke(app, ["edge", "parcels"])
    assert done.exit_code == 2
    assert "edge.toml is not usable" in done.output


def linked(tmp_path: Path, password_file: str = "broker.password") -> Path:
    path = tmp_path / "edge.toml"
    text = config_text("/dev/serial/by-id/not-plugged-in", tmp_path / "edge.db")
    link = (
        f'[link]\nbroker = "mqtts://broker.example.net:8883"\npassword_file = "{password_file}"\n'
    )
    path.write_text(f"{text}\n{link}")
    return path


def test_a_missing_password_file_is_refused_before_the_daemon_starts(
    locker: Locker, tmp_path: Path
) -> None:
    done = locker("edge", "--config", str(linked(tmp_path)))
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines() == [
        f"error: {tmp_path / 'edge.toml'} is not usable:",
        f"  - link.password_file: cannot read {tmp_path / 'broker.password'} (No such file or "
        "directory): put the bank's broker password in it (mode 0600), or remove password_file",
    ]


EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "edge.toml"


def linked_example() -> str:
    """The example with its commented-out ``[link]`` table uncommented, as an installer would."""
    text = EXAMPLE.read_text(encoding="utf-8")
    head, marker, rest = text.partition("\n# [link]\n")
    assert marker, "the example keeps a commented [link] table"
    table, gap, after = rest.partition("\n\n")  # the table ends at the first blank line
    lines = ["[link]", *table.splitlines()]
    uncommented = "\n".join(line.removeprefix("#").removeprefix(" ") for line in lines)
    return head + "\n" + uncommented + gap + after


def test_the_example_config_runs_standalone_as_the_readme_starts_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(EXAMPLE, tmp_path / "edge.toml")
    monkeypatch.chdir(tmp_path)
    assert load_config(tmp_path / "edge.toml").link is None
    done = CliRunner().invoke(app, ["edge", "couriers", "list"])  # the README's next step
    assert done.exit_code == 0, done.output


def test_the_example_link_is_over_tls_and_needs_its_password_file(tmp_path: Path) -> None:
    example = tmp_path / "edge.toml"
    example.write_text(linked_example())
    broker = tomllib.loads(example.read_text(encoding="utf-8"))["link"]["broker"]
    assert (urlsplit(broker).scheme, urlsplit(broker).port) == ("mqtts", 8883)
    with pytest.raises(ConfigError, match=r"link\.password_file: cannot read"):
        load_config(example)
    (tmp_path / "broker.password").write_text("s3cret-from-the-operator\n")
    config = load_config(example)
    assert config.link is not None
    assert config.link.password_file == tmp_path / "broker.password"


@pytest.mark.parametrize("consent", [*CONSENTS, "contract", "nodded"])
def test_expect_takes_exactly_the_consent_vocabulary(consent: str, tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(config_text("/dev/null", tmp_path / "edge.db"))
    args = ["edge", "--config", str(path), "expect", "--waybill", "SF1", "--carrier", "sf"]
    done = CliRunner().invoke(app, [*args, "--phone", "13800138000", "--consent", consent])
    assert done.exit_code == (0 if consent in CONSENTS else 2), done.output
