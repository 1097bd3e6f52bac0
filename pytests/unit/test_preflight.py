"""The plugin's pre-flight check: an unreachable master / Connect server fails fast, naming the URL."""

from __future__ import annotations

import socket

import pytest

from dbt_sweep.plugin.preflight import SparkUnreachableError, _endpoints, check_reachable


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_endpoints_of_masters_and_remotes(monkeypatch):
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    assert _endpoints({"spark.master": "local[*]"}) is None
    assert _endpoints({"spark.master": "spark://a:7077,b"}) == (
        "spark://a:7077,b",
        [("a", 7077), ("b", 7077)],
    )
    assert _endpoints({"spark.remote": "sc://h:1234/;token=x"})[1] == [("h", 1234)]
    monkeypatch.setenv("SPARK_REMOTE", "sc://h")
    assert _endpoints({"spark.master": "local[2]"}) == ("sc://h", [("h", 15002)])


@pytest.mark.parametrize("scheme, key", [("spark", "spark.master"), ("sc", "spark.remote")])
def test_unreachable_url_is_named(monkeypatch, scheme, key):
    monkeypatch.delenv("SPARK_REMOTE", raising=False)
    url = f"{scheme}://127.0.0.1:{_closed_port()}"
    with pytest.raises(SparkUnreachableError, match=f"{url} is unreachable"):
        check_reachable({key: url})


def test_a_listening_master_passes():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_reachable({"spark.master": f"spark://127.0.0.1:{server.getsockname()[1]}"})
