"""Every task the edge and the cloud start has a name: the link's and the ingest worker's session
tasks as they run against a real broker, and every task started in ``controller/`` and ``cloud/``
as the source shows it."""

from __future__ import annotations

import ast
import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.brokers import Mosquitto
from tests.linkbench import Rig, fast_settings, until

BANK = "maple-court-3"
ROOT = Path(__file__).parents[1]


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(tmp_path / "mosquitto").start()
    yield broker
    broker.stop()


def running() -> set[str]:
    return {task.get_name() for task in asyncio.all_tasks()}


async def test_the_link_and_the_worker_run_named_tasks_and_end_them(
    mosquitto: Mosquitto, rig: Rig, tmp_path: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'cloud.db'}"
    cloud = rig.cloud(rig.database(url, [BANK]), fast_settings(url), mosquitto.url)
    edge = rig.edge(BANK, mosquitto.url)
    cloud.start()
    edge.start()
    assert cloud.worker is not None
    assert edge.link is not None
    worker, link = cloud.worker, edge.link
    await until(lambda: worker.stats.connected and link.status.connected, what="both connected")
    edge_tasks = {f"link[{BANK}].{task}" for task in ("receive", "events", "commands")}
    edge_tasks |= {f"link[{BANK}].heartbeat", f"link[{BANK}].state"}
    ingest = f"ingest[{worker.client_id}]"
    worker_tasks = {f"{ingest}.{task}" for task in ("receive", "commands", "sweep", "lane-0")}
    # connected comes before the session's subscriptions; its tasks start after them
    await until(lambda: edge_tasks | worker_tasks <= running(), what="the sessions' tasks")
    await edge.stop()
    assert not edge_tasks & running()
    assert not link.status.connected
    await cloud.stop()
    assert not worker_tasks & running()


def _unnamed_tasks(path: Path, root: Path = ROOT) -> list[str]:
    """Where ``path`` starts a task without a name (``ensure_future`` cannot name one)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
            continue
        named = any(keyword.arg == "name" for keyword in node.keywords)
        starts = node.func.attr in {"create_task", "ensure_future"}
        if starts and not (node.func.attr == "create_task" and named):
            found.append(f"{path.relative_to(root)}:{node.lineno}")
    return found


def test_every_task_started_by_the_edge_or_the_cloud_is_named() -> None:
    sources = [*(ROOT / "controller").rglob("*.py"), *(ROOT / "cloud").rglob("*.py")]
    sources += [*(ROOT / "locker_contract").rglob("*.py")]
    assert [where for path in sources for where in _unnamed_tasks(path)] == []


def test_an_unnamed_task_is_found(tmp_path: Path) -> None:
    source = tmp_path / "x.py"
    source.write_text("asyncio.create_task(work())\nloop.create_task(w(), name='w')\n")
    assert [where.rsplit(":", 1)[1] for where in _unnamed_tasks(source, tmp_path)] == ["1"]
