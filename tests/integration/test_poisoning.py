"""Membership that cannot be poisoned, on real node processes on loopback: one request naming
thousands of made-up peers (addresses that refuse, one that accepts and never answers, one
that answers under a real node's id) makes none of them a member, costs a bounded number of
probes, and leaves every real node learning every real node's newest favourite. A late
joiner that bootstraps from the poisoned node joins the real cluster. Every fake is on
127.0.0.0/8: a poisoned node dials what it is told."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import psutil
import pytest

from lab.cluster import LocalCluster
from tests.support.ports import port_range

BASE = port_range(__file__).start  # 4 ports: no other test uses them


def post(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


def get_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as e:
        return int(e.code)


class Spoofer:
    """An HTTP server that answers every request as if it were the real node `claims`."""

    def __init__(self, host: str, claims: str) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                hits.append(f"{self.command} {self.path}")
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                body = json.dumps({"sender": claims, "self": claims, "peers": []}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _answer

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((host, 0), Handler)
        self.address = f"{host}:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Tarpit:
    """Accepts connections and never answers."""

    def __init__(self, host: str) -> None:
        self.sock = socket.socket()
        self.sock.bind((host, 0))
        self.sock.listen(512)
        self.address = f"{host}:{self.sock.getsockname()[1]}"
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.accepted:
            conn.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    env = {"GOSSIP_RESAMPLE_SECONDS": "1", "GOSSIP_SYNC_SECONDS": "1"}
    with LocalCluster(3, base_port=BASE, env=env, log_dir=tmp_path) as c:
        c.wait_ready(30)
        c.wait_converged(20)
        yield c


def test_one_request_full_of_fake_peers_eclipses_nobody(cluster: LocalCluster) -> None:
    ports = cluster.ports
    real = {f"127.0.0.1:{p}" for p in [*ports, BASE + 3]}
    victim = cluster.url(BASE)
    spoofer = Spoofer("127.4.0.1", claims=f"127.0.0.1:{BASE + 1}")
    tarpit = Tarpit("127.3.0.1")
    try:
        refusing = [f"127.2.{i >> 8}.{i & 255}:{9 + i % 7}" for i in range(3000)]
        named = [spoofer.address, tarpit.address, *refusing]
        # the victim's own traffic first, unpoisoned, for comparison
        proc = psutil.Process(cluster.procs[BASE].pid)
        quiet0, q0 = cluster.state(BASE)["counters"]["requests_sent"], time.monotonic()
        cpu0 = sum(proc.cpu_times()[:2])
        time.sleep(5)
        quiet_sent = cluster.state(BASE)["counters"]["requests_sent"] - quiet0
        quiet = quiet_sent / (time.monotonic() - q0)
        quiet_cpu = (sum(proc.cpu_times()[:2]) - cpu0) / (time.monotonic() - q0)
        t0, cpu0 = time.monotonic(), sum(proc.cpu_times()[:2])
        # the sender field names a real node: it proves nothing
        assert post(f"{victim}/gossip/", {"sender": f"127.0.0.1:{BASE + 1}", "peers": named}) == 200
        before = cluster.state(BASE)["counters"]["requests_sent"]
        # for 15 s: another poisoning request every second, and the views watched
        history: list[tuple[float, dict[int, dict[str, int]]]] = []
        forgotten_at = None
        while time.monotonic() - t0 < 15:
            post(f"{victim}/gossip/", {"peers": named[: 3 + int(time.monotonic() - t0) * 10]})
            history.append((time.monotonic(), cluster.views()))
            for p in ports:
                members = set(cluster.state(p)["peers"])
                assert members <= real, f"node {p} took a fake as a member: {members - real}"
            time.sleep(1.0)
        # no gap: at every moment each node knew every node's own version of 3 s before
        for at, views in history:
            earlier = [v for t, v in history if at - t >= 3.0]
            if not earlier:
                continue
            for p in ports:
                origin = f"127.0.0.1:{p}"
                then = earlier[-1].get(p, {}).get(origin)
                for q, view in views.items():
                    if then is not None:
                        assert view.get(origin, -1) >= then, f"{q} fell behind on {origin}"
        cluster.wait_converged(10)
        # the proxy relays to none of the fakes
        for fake in (spoofer.address, tarpit.address, refusing[0]):
            assert get_status(f"{victim}/proxy/{fake}/state") == 404
        assert not [h for h in spoofer.hits if h.startswith("GET")]
        # every fake is forgotten; time it
        while time.monotonic() - t0 < 120:
            state = cluster.state(BASE)
            if not state["candidates"]:
                forgotten_at = time.monotonic() - t0
                break
            time.sleep(0.5)
        assert forgotten_at is not None, f"candidates left: {state['candidates'][:5]}"
        state = cluster.state(BASE)
        sent = state["counters"]["requests_sent"] - before
        elapsed = time.monotonic() - t0
        cpu = (sum(proc.cpu_times()[:2]) - cpu0) / elapsed
        assert state["peer_counts"]["alive"] == 2 and state["peer_counts"]["dead"] == 0
        assert not set(state["peers"]) - real
        print(
            f"poisoned with {len(named)} ids a second for 15 s: last fake forgotten after "
            f"{forgotten_at:.1f} s; spoofer probed {len(spoofer.hits)} times; the victim sent "
            f"{sent} requests in {elapsed:.0f} s ({sent / elapsed:.1f}/s, gossip included; "
            f"{quiet:.1f}/s unpoisoned); CPU {cpu:.1%} of a core ({quiet_cpu:.1%} unpoisoned)"
        )
        # a late joiner bootstrapping from the poisoned node joins the real cluster
        cluster.ports.append(BASE + 3)
        cluster.start(BASE + 3)
        cluster.wait_ready(30, [BASE + 3])
        cluster.wait_converged(20)
        late = cluster.state(BASE + 3)
        assert set(late["peers"]) <= real and len(late["peers"]) >= 2
    finally:
        spoofer.close()
        tarpit.close()
