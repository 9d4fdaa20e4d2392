"""tools/craft.py measured on a small tree written here (never on the real one)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tools.craft import measure

CRAFT = Path(__file__).resolve().parents[2] / "tools" / "craft.py"
CLEAN = '''\
"""A module within every limit."""


def short(x: int) -> int:
    return x + 1


def shorter() -> None:
    pass
'''


def _write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _long_function(name: str, body_lines: int) -> str:
    body = "".join(f"    x{i} = {i}\n" for i in range(body_lines - 1))
    return f"def {name}() -> None:\n{body}    return None\n"


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CRAFT), "--root", str(root)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_tree_within_every_limit_passes(tmp_path: Path) -> None:
    _write(tmp_path, "controller/a.py", CLEAN)
    _write(tmp_path, "cloud/b.py", _long_function("sixty", 59))  # def line + 59: exactly 60
    # lengths 2, 2 and 60
    result = _run(tmp_path)
    assert result.returncode == 0, result.stdout
    assert "functions over 60 lines: 0" in result.stdout
    assert "median function length: 2 lines" in result.stdout
    assert "within every limit" in result.stdout


def test_a_function_over_60_lines_is_named_and_fails(tmp_path: Path) -> None:
    _write(tmp_path, "hil_sim/sim.py", CLEAN + "\n\n" + _long_function("sprawling", 61))
    result = _run(tmp_path)
    assert result.returncode == 1
    assert "functions over 60 lines: 1" in result.stdout
    assert "  62  hil_sim/sim.py:12 sprawling" in result.stdout
    assert "functions over 60 lines: 1 (limit 0)" in result.stdout


def test_a_file_over_500_lines_fails_and_generated_migrations_do_not_count(
    tmp_path: Path,
) -> None:
    big = "\n".join(f"X{i} = {i}" for i in range(501)) + "\n"
    _write(tmp_path, "cloud/migrations/versions/0001_init.py", big)
    _write(tmp_path, "tests/test_big.py", big)  # not production code
    assert _run(tmp_path).returncode == 0
    _write(tmp_path, "benchmarks/big.py", big)
    result = _run(tmp_path)
    assert result.returncode == 1
    assert " 501  benchmarks/big.py" in result.stdout


def test_wall_clock_reads_count_in_controller_and_cloud_outside_their_clock_module(
    tmp_path: Path,
) -> None:
    _write(tmp_path, "controller/clock.py", "import time\n\nnow = time.monotonic\n")
    _write(tmp_path, "benchmarks/run.py", "import time\n\nstart = time.perf_counter()\n")
    _write(tmp_path, "firmware_bridge/clock.py", "import time\n\nT = time.time()\n")
    assert _run(tmp_path).returncode == 0
    _write(
        tmp_path,
        "cloud/services/due.py",
        "import datetime as dt\n"
        "from datetime import date, datetime\n"
        "from time import monotonic as mono\n"
        "import time\n"
        "\n"
        "a = datetime.now()\n"
        "b = dt.datetime.utcnow()\n"
        "c = date.today()\n"
        "d = mono()\n"
        "e = time.perf_counter()\n"
        "f = dict(default_factory=time.time)\n"
        "g = time.sleep\n",
    )
    report = measure(tmp_path)
    found = [(r.line, r.name) for r in report.clock_reads]
    assert found == [
        (6, "datetime.now"),
        (7, "dt.datetime.utcnow"),
        (8, "date.today"),
        (9, "mono"),
        (10, "time.perf_counter"),
        (11, "time.time"),
    ]
    result = _run(tmp_path)
    assert result.returncode == 1
    assert "wall-clock reads outside a clock module: 6 (limit 0)" in result.stdout
    assert "cloud/services/due.py:8 date.today" in result.stdout


def test_comments_are_counted_but_not_strings_and_the_limits_apply(tmp_path: Path) -> None:
    skips = "".join(f"A{i} = [1,  2]  # fmt: skip\n" for i in range(10))
    _write(tmp_path, "locker_cli/a.py", f'"""mentions # fmt: skip and type: ignore"""\n{skips}')
    report = measure(tmp_path)
    assert (report.fmt_skips, report.type_ignores) == (10, 0)
    assert _run(tmp_path).returncode == 0  # ten is the limit
    _write(tmp_path, "locker_contract/b.py", "B = [1,  2]  # fmt: skip\n")
    result = _run(tmp_path)
    assert result.returncode == 1
    assert "# fmt: skip: 11 (limit 10)" in result.stdout
    _write(tmp_path, "locker_contract/b.py", "C: int = 'x'  # type: ignore[assignment]\n")
    result = _run(tmp_path)
    assert result.returncode == 1
    assert "type: ignore: 1 (limit 0)" in result.stdout
