"""Peak resident memory of a process tree, sampled from /proc in a thread (Linux only).

The tree of a ``dbt build`` on the local target: the dbt process (the driver's Python side), the JVM
it launches through spark-submit (the driver's JVM: with ``local[*]`` it is also the executor), and
the JVM's ``pyspark.daemon`` with the Python workers it forks (the training stage's processes).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

_PAGE = os.sysconf("SC_PAGE_SIZE")


def _parents() -> dict[int, int]:
    out = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # the process ended between listdir and read
            continue
        out[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def _descendants(root: int) -> list[int]:
    parents = _parents()
    children: dict[int, list[int]] = {}
    for pid, ppid in parents.items():
        children.setdefault(ppid, []).append(pid)
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _rss_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * _PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def _kind(pid: int, root: int) -> str:
    if pid == root:
        return "driver_python"
    try:
        cmdline = (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except OSError:
        return "other"
    if "java" in cmdline.split(" ", 1)[0]:
        return "driver_jvm"
    if "python" in cmdline:
        return "python_workers"
    return "other"


class MemorySampler:
    """Samples the RSS of ``root`` and its descendants every ``interval`` seconds until stopped."""

    def __init__(self, root: int, interval: float = 0.25) -> None:
        self.root, self.interval = root, interval
        self._peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def _sample(self) -> None:
        totals: dict[str, float] = {}
        largest_worker = 0.0
        count = 0
        for pid in _descendants(self.root):
            kind, rss = _kind(pid, self.root), _rss_mb(pid)
            totals[kind] = totals.get(kind, 0.0) + rss
            if kind == "python_workers":
                largest_worker = max(largest_worker, rss)
                count += 1
        totals["largest_python_worker"] = largest_worker
        totals["python_worker_processes"] = float(count)
        totals["tree_total"] = sum(
            v
            for k, v in totals.items()
            if k in ("driver_python", "driver_jvm", "python_workers", "other")
        )
        for key, value in totals.items():
            self._peak[key] = max(self._peak.get(key, 0.0), value)

    def peaks(self) -> dict[str, float]:
        """Peak MB per kind (``python_workers`` is the peak of their sum)."""
        return {key: round(value, 1) for key, value in sorted(self._peak.items())}
