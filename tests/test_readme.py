"""The README never shows a secret on a command line, where shell history and `ps` keep it."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).parent.parent / "README.md"
SECRET_ON_A_COMMAND_LINE = re.compile(r"--(pin|code|password|secret)\b|\"(pin|code)\":\s*\"\d+\"")


def shell_lines(text: str) -> list[str]:
    blocks = re.findall(r"```(?:sh|bash|console)\n(.*?)```", text, flags=re.DOTALL)
    return [line for block in blocks for line in block.splitlines()]


def test_no_pin_or_code_on_a_readme_command_line() -> None:
    lines = shell_lines(README.read_text(encoding="utf-8"))
    assert any("couriers add" in line for line in lines)  # the courier example is still there
    assert [line for line in lines if SECRET_ON_A_COMMAND_LINE.search(line)] == []


def test_the_check_catches_a_pin() -> None:
    example = "```sh\nlocker edge couriers add --id sf-1 --carrier sf --pin 2468\n```\n"
    assert SECRET_ON_A_COMMAND_LINE.search(shell_lines(example)[0])
