"""The bank's configuration: a bad file is refused with every problem listed."""

from __future__ import annotations

from pathlib import Path

import pytest

from controller.config import ConfigError, Size, load_config
from tests.controller.conftest import config_text


def test_a_good_config_loads_with_paths_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(config_text("/dev/ttyUSB0", Path("edge.db")))
    config = load_config(path)
    assert config.bank.database == tmp_path / "edge.db"
    assert config.bank.key_file == tmp_path / "bank.key"
    assert config.compartment("A03").size is Size.M
    assert config.api.host == "127.0.0.1"
    assert config.policy.lockout_after == 5


BAD = """
[bank]
id = "Maple Court"

[[bus]]
name = "main"
port = "/dev/ttyUSB0"
protocol = "xor8a"
[[bus.board]]
address = 0
[[bus.board]]
address = 2
channels = 8
[[bus.board]]
address = 2

[[compartment]]
label = "A01"
bus = "main"
board = 2
channel = 9
size = "M"

[[compartment]]
label = "A02"
bus = "side"
board = 1
channel = 1
size = "M"

[[compartment]]
label = "A02"
bus = "main"
board = 5
channel = 1
size = "M"
"""


def test_every_problem_is_listed(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(BAD.replace('id = "Maple Court"', 'id = "maple"'))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    problems = caught.value.problems
    assert "bus main: board address 0 is outside 1-31 for xor8a" in problems
    assert "bus main: board 2 is defined twice" in problems
    assert "compartment A02 is defined twice" in problems
    assert "compartment A01: board 2 has 8 channels, not 9" in problems
    assert "compartment A02: no bus named 'side'" in problems
    assert "compartment A02: bus main has no board 5" in problems


def test_schema_errors_are_listed_with_where(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    path.write_text(BAD + "\n[policy]\nlockout_after = 0\nsurprise = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    joined = "\n".join(caught.value.problems)
    assert "bank.id: String should match pattern" in joined
    assert "policy.lockout_after" in joined
    assert "policy.surprise: Extra inputs are not permitted" in joined


def test_unreadable_files_say_why(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[bank\n")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        load_config(broken)


def test_two_compartments_on_one_channel_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    text = config_text("/dev/ttyUSB0", Path("edge.db")).replace(
        'label = "A02"\nbus = "main"\nboard = 1\nchannel = 2',
        'label = "A02"\nbus = "main"\nboard = 1\nchannel = 1',
    )
    path.write_text(text)
    with pytest.raises(ConfigError, match="2 compartments share bus main board 1 channel 1"):
        load_config(path)


def test_the_links_password_file_must_exist_and_hold_a_password(tmp_path: Path) -> None:
    path = tmp_path / "edge.toml"
    link = '[link]\nbroker = "mqtts://broker.example.net:8883"\npassword_file = "secret/pw"\n'
    path.write_text(config_text("/dev/ttyUSB0", Path("edge.db")) + link)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    [problem] = caught.value.problems
    assert problem.startswith(f"link.password_file: cannot read {tmp_path / 'secret' / 'pw'} (")
    (tmp_path / "secret").mkdir()
    (tmp_path / "secret" / "pw").write_text("\n")
    with pytest.raises(ConfigError, match=r"link\.password_file: .*pw is empty"):
        load_config(path)
    (tmp_path / "secret" / "pw").write_text("a-long-broker-password\n")
    config = load_config(path)
    assert config.link is not None
    assert config.link.password_file == tmp_path / "secret" / "pw"
