"""Fail fast, naming the URL, when a `method: session` profile points at a Spark master or Spark
Connect server nobody listens on.

Without this, a standalone driver starts anyway, runs catalog statements locally and then waits
for executors ("Initial job has not accepted any resources") until Spark gives up on the master a
minute later with "SparkContext was shut down"; a Connect client retries gRPC for minutes.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

_TIMEOUT = float(os.environ.get("DBT_SWEEP_PREFLIGHT_TIMEOUT", "5"))
_reachable: set[str] = set()
_lock = threading.Lock()


class SparkUnreachableError(RuntimeError):
    pass


def _endpoints(
    server_side_parameters: Mapping[str, Any],
) -> tuple[str, list[tuple[str, int]]] | None:
    """The URL the profile names and the (host, port) pairs to try; None when nothing to check."""
    remote = server_side_parameters.get("spark.remote") or os.environ.get("SPARK_REMOTE")
    if remote and str(remote).startswith("sc://"):
        url = str(remote)
        parsed = urlparse(url.split(";", 1)[0])
        return url, [(parsed.hostname or "localhost", parsed.port or 15002)]
    master = str(server_side_parameters.get("spark.master") or "")
    if master.startswith("spark://"):
        # spark://host1:port1,host2:port2 (standby masters): any one answering is enough.
        hosts = []
        for part in master[len("spark://") :].split(","):
            host, _, port = part.partition(":")
            hosts.append((host, int(port or 7077)))
        return master, hosts
    return None


def check_reachable(server_side_parameters: Mapping[str, Any]) -> None:
    """Raise :class:`SparkUnreachableError` when no endpoint of the profile's master / remote accepts
    a TCP connection within a few seconds. Checked once per URL per process."""
    found = _endpoints(server_side_parameters)
    if found is None:
        return
    url, hosts = found
    with _lock:
        if url in _reachable:
            return
    errors = []
    for host, port in hosts:
        try:
            with socket.create_connection((host, port), timeout=_TIMEOUT):
                pass
        except OSError as exc:
            errors.append(f"{host}:{port}: {exc.strerror or exc}")
            continue
        with _lock:
            _reachable.add(url)
        return
    kind = "Spark Connect server" if url.startswith("sc://") else "Spark master"
    hint = (
        "start it (scripts/connect.sh start) or fix SPARK_REMOTE / the profile's spark.remote"
        if url.startswith("sc://")
        else "start it (scripts/cluster.sh start) or fix SPARK_MASTER_URL / the profile's spark.master"
    )
    raise SparkUnreachableError(f"The {kind} {url} is unreachable ({'; '.join(errors)}): {hint}.")
