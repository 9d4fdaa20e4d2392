"""Measure the production code against the limits of issue 12 (stdlib only: ``ast``, ``tokenize``).

    python tools/craft.py [--root DIR]

Prints functions over 60 lines, files over 500 lines, direct wall-clock reads in ``controller/``
and ``cloud/`` outside their clock modules, the count of ``# fmt: skip`` and ``type: ignore``
comments, and the median function length; exits 1 when a limit is broken, 0 otherwise.
"""

from __future__ import annotations

import argparse
import ast
import io
import re
import statistics
import sys
import tokenize
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

PACKAGES = (
    "firmware_bridge",
    "hil_sim",
    "controller",
    "cloud",
    "locker_contract",
    "locker_cli",
    "benchmarks",
)
GENERATED = ("migrations/versions/",)  # Alembic writes these
CLOCK_PACKAGES = ("controller", "cloud")  # where time must come through an injected clock
CLOCK_MODULE = "clock.py"  # the one file per package allowed to read the wall clock
WALL_CLOCKS = frozenset(
    {
        "time.time",
        "time.time_ns",
        "time.monotonic",
        "time.monotonic_ns",
        "time.perf_counter",
        "time.perf_counter_ns",
        "datetime.datetime.now",
        "datetime.datetime.utcnow",
        "datetime.datetime.today",
        "datetime.date.today",
    }
)
MAX_FUNCTION_LINES = 60
MAX_FILE_LINES = 500
MAX_FMT_SKIPS = 10
MAX_TYPE_IGNORES = 0
MAX_CLOCK_READS = 0
FMT_SKIP = re.compile(r"#\s*fmt:\s*skip")
TYPE_IGNORE = re.compile(r"#\s*type:\s*ignore")


@dataclass(frozen=True)
class Function:
    name: str
    path: str
    line: int
    lines: int


@dataclass(frozen=True)
class ClockRead:
    path: str
    line: int
    name: str


@dataclass
class Report:
    functions: list[Function] = field(default_factory=list)
    file_lines: dict[str, int] = field(default_factory=dict)
    clock_reads: list[ClockRead] = field(default_factory=list)
    fmt_skips: int = 0
    type_ignores: int = 0

    def long_functions(self) -> list[Function]:
        long = [f for f in self.functions if f.lines > MAX_FUNCTION_LINES]
        return sorted(long, key=lambda f: (-f.lines, f.path, f.line))

    def long_files(self) -> list[tuple[str, int]]:
        long = [(path, n) for path, n in self.file_lines.items() if n > MAX_FILE_LINES]
        return sorted(long, key=lambda item: (-item[1], item[0]))

    def median(self) -> float:
        return statistics.median(f.lines for f in self.functions) if self.functions else 0.0

    def broken(self) -> list[str]:
        """The limits this report breaks, one line each."""
        checks = [
            (len(self.long_functions()), 0, f"functions over {MAX_FUNCTION_LINES} lines"),
            (len(self.long_files()), 0, f"files over {MAX_FILE_LINES} lines"),
            (len(self.clock_reads), MAX_CLOCK_READS, "wall-clock reads outside a clock module"),
            (self.fmt_skips, MAX_FMT_SKIPS, "# fmt: skip"),
            (self.type_ignores, MAX_TYPE_IGNORES, "type: ignore"),
        ]
        return [f"{what}: {n} (limit {limit})" for n, limit, what in checks if n > limit]


def production_files(root: Path) -> Iterator[Path]:
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).as_posix()
            if not any(part in relative for part in GENERATED):
                yield path


def functions(tree: ast.Module, path: str) -> Iterator[Function]:
    """Every function and method, nested ones too, measured from ``def`` to its last line."""
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            end = node.end_lineno or node.lineno
            yield Function(node.name, path, node.lineno, end - node.lineno + 1)


def _imported_names(tree: ast.Module) -> dict[str, str]:
    """Local name to what it stands for: ``import time as t`` gives ``t -> time``,
    ``from datetime import datetime`` gives ``datetime -> datetime.datetime``."""
    names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                local = alias.asname or alias.name.split(".")[0]
                names[local] = alias.name if alias.asname else local
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def clock_reads(tree: ast.Module, path: str) -> Iterator[ClockRead]:
    """Each mention of a wall clock (called or passed on, as in ``default_factory=time.time``)."""
    names = _imported_names(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Name | ast.Attribute):
            continue
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            continue
        dotted = _dotted(node)
        if dotted is None:
            continue
        head, _, rest = dotted.partition(".")
        resolved = names.get(head, head) + (f".{rest}" if rest else "")
        if resolved in WALL_CLOCKS:
            yield ClockRead(path, node.lineno, dotted)


def _comment_counts(source: str) -> tuple[int, int]:
    skips = ignores = 0
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            skips += bool(FMT_SKIP.search(token.string))
            ignores += bool(TYPE_IGNORE.search(token.string))
    return skips, ignores


def _clock_checked(relative: str) -> bool:
    package = relative.split("/", 1)[0]
    return package in CLOCK_PACKAGES and Path(relative).name != CLOCK_MODULE


def measure(root: Path) -> Report:
    report = Report()
    for path in production_files(root):
        relative = path.relative_to(root).as_posix()
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=relative)
        report.file_lines[relative] = len(source.splitlines())
        report.functions.extend(functions(tree, relative))
        if _clock_checked(relative):
            report.clock_reads.extend(clock_reads(tree, relative))
        skips, ignores = _comment_counts(source)
        report.fmt_skips += skips
        report.type_ignores += ignores
    return report


def render(report: Report) -> list[str]:
    lines = [f"functions over {MAX_FUNCTION_LINES} lines: {len(report.long_functions())}"]
    lines += [f"  {f.lines:4d}  {f.path}:{f.line} {f.name}" for f in report.long_functions()]
    lines.append(f"files over {MAX_FILE_LINES} lines: {len(report.long_files())}")
    lines += [f"  {n:4d}  {path}" for path, n in report.long_files()]
    reads = report.clock_reads
    lines.append(f"wall-clock reads outside a clock module: {len(reads)}")
    lines += [f"  {r.path}:{r.line} {r.name}" for r in reads]
    lines.append(f"# fmt: skip: {report.fmt_skips}")
    lines.append(f"type: ignore: {report.type_ignores}")
    lines.append(f"median function length: {report.median():g} lines")
    lines.append(f"files: {len(report.file_lines)}, functions: {len(report.functions)}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    report = measure(args.root)
    print("\n".join(render(report)))
    broken = report.broken()
    if broken:
        print("limits broken:\n" + "\n".join(f"  {line}" for line in broken))
        return 1
    print("within every limit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
