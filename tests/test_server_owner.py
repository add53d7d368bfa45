"""The server as the workspace's owner: with ``sitewatch serve`` running, ``sitewatch`` commands
and ``sitewatch.open()`` act through it; the dashboard keeps answering during long writes; after
the server stops the workspace holds exactly what was ingested; a stale discovery file is
cleaned; nobody gets in without the token a route needs; remote use with ``--server/--token``.

The server runs as a real ``sitewatch serve --port 0`` child process on 127.0.0.1 (loopback
only); the load test is bounded in count (4 writers × 3 files, 2 readers) and time.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

import sitewatch
from sitewatch import owner
from sitewatch import sites as S
from sitewatch.cli import main
from sitewatch.remote import RemoteWorkspace
from sitewatch.workspace import Workspace

T0 = datetime(2024, 12, 13, 6, 0, tzinfo=UTC)
START_S = 60.0


def _csv(path: Path, icao: str, n: int, t0: datetime = T0) -> Path:
    lines = ["t_utc,source,id,lat,lon,alt_ft"]
    lines += [f"{(t0 + timedelta(seconds=i)).isoformat()},adsb,{icao},{35.0 + i * 1e-4:.5f},35.5,{1000 + i % 300}"
              for i in range(n)]
    path.write_text("\n".join(lines) + "\n")
    return path


class Serve:
    """``sitewatch serve --port 0`` on a workspace, in a child process."""

    def __init__(self, folder: Path, *extra: str) -> None:
        self.folder = folder
        self.log = folder.parent / f"{folder.name}.serve.log"
        self.proc = subprocess.Popen([sys.executable, "-c", "from sitewatch.cli import entry; entry()", "-w",
                                      str(folder), "serve", "--port", "0", "--poll-s", "0.2", *extra],
                                     stdout=subprocess.DEVNULL, stderr=self.log.open("w"))
        deadline = time.monotonic() + START_S
        info = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            info = owner.find(folder)
            if info is not None and info.pid == self.proc.pid:
                break
            time.sleep(0.1)
        if info is None or info.pid != self.proc.pid:
            self.stop()
            raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")
        self.info = info

    def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        req = urllib.request.Request(self.info.url + path,
                                     headers={"Authorization": f"Bearer {token}"} if token else {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def post(self, path: str, body: Any, token: str | None = None) -> tuple[int, bytes]:
        data = json.dumps(body).encode()
        h = {"Content-Type": "application/json", "Content-Length": str(len(data))}
        if token:
            h["Authorization"] = f"Bearer {token}"
        req = urllib.request.Request(self.info.url + path, data=data, headers=h, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return int(self.proc.returncode)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Serve]:
    folder = tmp_path_factory.mktemp("owner") / "ws"
    ws = Workspace.init(folder)
    ws.put_site(S.from_airport("hmeimim", "OSLK", 6))
    ws.close()
    s = Serve(folder)
    yield s
    s.stop()


def test_discovery_file_is_private_and_points_at_the_server(served: Serve) -> None:
    p = owner.path_of(served.folder)
    assert stat.S_IMODE(p.stat().st_mode) == 0o600
    raw = json.loads(p.read_text())
    assert raw["pid"] == served.proc.pid and raw["url"].startswith("http://127.0.0.1:")
    assert raw["token"].startswith("swo_") and len(raw["token"]) > 40
    assert served.get("/api/health")[0] == 200


def test_commands_and_notebooks_work_while_the_dashboard_is_open(served: Serve, tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    w = str(served.folder)
    assert main(["-w", w, "site", "add", "tartus", "--port", "Tartus"]) == 0
    code, body = served.get("/api/sites")  # the dashboard sees the new site at once
    assert code == 200 and {s["name"] for s in json.loads(body)} >= {"hmeimim", "tartus"}
    capsys.readouterr()
    os.chdir(tmp_path)  # a relative path is the caller's, not the server's
    _csv(tmp_path / "a.csv", "151abc", 500)
    assert main(["-w", w, "ingest", "positions", "a.csv"]) == 0
    assert json.loads(capsys.readouterr().out)["accepted"] == 500
    assert main(["-w", w, "analyze"]) == 0
    assert "by_analysis" in json.loads(capsys.readouterr().out)
    assert main(["-w", w, "events", "--format", "json"]) == 0
    assert isinstance(json.loads(capsys.readouterr().out), list)
    assert main(["-w", w, "events", "--site", "nowhere"]) == 2
    assert "no site named 'nowhere'" in capsys.readouterr().err
    ws = sitewatch.open(served.folder)
    assert isinstance(ws, RemoteWorkspace) and ws.owner
    assert isinstance(ws.events(), pa.Table)
    assert ws.positions(subject="151abc").num_rows == 500
    assert sorted(ws.sites) == ["hmeimim", "tartus"]
    assert ws.timeline("hmeimim").num_rows == 0 and ws.indicators("hmeimim").num_rows > 0
    assert ws.assess("hmeimim", at="2024-12-14")[0].what_if


def test_reads_do_not_wait_for_a_long_write(served: Serve, tmp_path: Path) -> None:
    big = _csv(tmp_path / "big.csv", "abc001", 400_000, T0 + timedelta(days=2))
    ws = sitewatch.open(served.folder)
    done = threading.Event()
    result: dict[str, Any] = {}

    def write() -> None:
        try:
            result["summary"] = ws.ingest("positions", big)
        finally:
            done.set()

    th = threading.Thread(target=write)
    t0 = time.monotonic()
    th.start()
    latencies: list[float] = []
    while not done.is_set() and time.monotonic() - t0 < 120:
        t = time.monotonic()
        assert served.get("/api/sites")[0] == 200
        ws.events(limit=10)
        latencies.append(time.monotonic() - t)
    th.join(120)
    write_s = time.monotonic() - t0
    assert result["summary"].accepted == 400_000
    assert len(latencies) >= 3, f"only {len(latencies)} reads during a {write_s:.1f} s write"
    assert max(latencies) < max(5.0, write_s / 2), f"a read waited {max(latencies):.1f} s for the write"
    print(f"{len(latencies)} reads during a {write_s:.1f} s ingest, slowest {max(latencies):.2f} s")


def test_stale_discovery_file_is_cleaned(tmp_path: Path) -> None:
    folder = tmp_path / "ws"
    Workspace.init(folder).close()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    owner.publish(folder, "http://127.0.0.1:9", 9, owner.new_token())
    info = json.loads(owner.path_of(folder).read_text())
    info["pid"] = dead.pid
    owner.path_of(folder).write_text(json.dumps(info))
    os.chmod(owner.path_of(folder), 0o600)
    ws = sitewatch.open(folder)
    assert isinstance(ws, Workspace) and not owner.path_of(folder).exists()
    ws.close()
    owner.publish(folder, "http://127.0.0.1:9", 9, owner.new_token())
    os.chmod(owner.path_of(folder), 0o644)  # a token others could read is never used
    with pytest.raises(sitewatch.SitewatchError, match="readable by other users"):
        owner.find(folder)


def test_nobody_gets_in_without_the_token_a_route_needs(served: Serve) -> None:
    from sitewatch.web import auth

    argv = {"argv": ["site", "list"]}
    assert served.post("/api/v1/exec", argv)[0] == 401
    assert served.post("/api/v1/exec", argv, owner.new_token())[0] == 401  # a forged owner token
    real = served.info.token
    altered = real[:-1] + ("y" if real.endswith("x") else "x")  # always differs from the real one
    assert served.post("/api/v1/exec", argv, altered)[0] == 401
    assert served.post("/api/v1/analyze", {})[0] == 401
    assert served.post("/api/v1/ingest/positions", {"paths": ["/etc/passwd"]})[0] == 401
    with Workspace.open(served.folder) as _:
        pass  # the folder's config is readable; its database is the server's
    _, body = served.post("/api/v1/exec", {"argv": ["token", "create", "--scope", "write"]}, served.info.token)
    write_tok = _result_output(body)
    _, body = served.post("/api/v1/exec", {"argv": ["token", "create", "--scope", "read"]}, served.info.token)
    read_tok = _result_output(body)
    assert write_tok.startswith("swt_") and read_tok.startswith("swt_")
    # API tokens: no server paths, no commands beyond --server's, no admin work without admin
    assert served.post("/api/v1/ingest/positions", {"paths": ["/etc/passwd"]}, write_tok)[0] == 403
    assert served.post("/api/v1/analyze", {}, write_tok)[0] == 403
    assert served.post("/api/v1/exec", {"argv": ["analyze"]}, read_tok)[0] == 403
    assert served.post("/api/v1/exec", {"argv": ["token", "list"]}, write_tok)[0] == 403
    assert served.post("/api/v1/exec", {"argv": ["ingest", "positions", "/etc/passwd"]}, write_tok)[0] == 403
    assert served.post("/api/v1/exec", {}, read_tok)[0] == 403
    assert served.post("/api/v1/exec", {"argv": ["site", "list"]}, read_tok)[0] == 200
    assert auth.SCOPES == ("read", "write", "admin")


def _result_output(body: bytes) -> str:
    lines = [json.loads(x) for x in body.splitlines() if x.strip()]
    assert lines[-1]["result"]["exit"] == 0, lines
    return "".join(m.get("o", "") for m in lines).strip()


def test_remote_use_with_server_and_token(served: Serve, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    w = str(served.folder)
    assert main(["-w", w, "token", "create", "--scope", "admin"]) == 0
    admin = capsys.readouterr().out.strip()
    assert main(["-w", w, "token", "create", "--scope", "read"]) == 0
    read = capsys.readouterr().out.strip()
    url = served.info.url
    elsewhere = tmp_path / "elsewhere"  # no workspace here: everything goes to the server
    elsewhere.mkdir()
    os.chdir(elsewhere)
    assert main(["--server", url, "--token", read, "site", "list", "--format", "json"]) == 0
    assert "hmeimim" in capsys.readouterr().out
    assert main(["--server", url, "--token", read, "analyze"]) == 2
    assert "admin token" in capsys.readouterr().err
    f = _csv(elsewhere / "remote.csv", "beef01", 50, T0 + timedelta(days=9))
    assert main(["--server", url, "--token", admin, "ingest", "positions", str(f)]) == 0  # uploaded
    assert json.loads(capsys.readouterr().out)["accepted"] == 50
    assert main(["--server", url, "--token", admin, "export", "events", "--format", "csv", "--out", "ev.csv"]) == 0
    assert "event_id" in (elsewhere / "ev.csv").read_text().splitlines()[0]  # written there, sent back here
    capsys.readouterr()
    remote = sitewatch.connect(url, read)
    assert remote.positions(subject="beef01").num_rows == 50
    with pytest.raises(sitewatch.SitewatchError):
        remote.analyze()  # a read token reads
    assert sitewatch.connect(url, admin).ingest("positions", _csv(elsewhere / "r2.csv", "beef02", 5)).accepted == 5


def test_serve_refuses_a_second_server(served: Serve, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-w", str(served.folder), "serve", "--port", "0"]) == 2
    assert f"pid {served.proc.pid}" in capsys.readouterr().err


@pytest.mark.slow
def test_concurrent_ingests_and_reads_then_the_workspace_holds_exactly_that(tmp_path: Path) -> None:
    """4 writers (CLI and library, 3 files each) and 2 readers (dashboard, library) at once;
    after the server stops, the folder opened directly holds every row, once."""
    folder = tmp_path / "ws"
    ws = Workspace.init(folder)
    ws.put_site(S.from_airport("hmeimim", "OSLK", 6))
    ws.close()
    s = Serve(folder)
    files = [[_csv(tmp_path / f"w{w}f{k}.csv", f"{w:02x}{k:04x}", 3000 + 100 * k, T0 + timedelta(days=w))
              for k in range(3)] for w in range(4)]
    errors: list[BaseException] = []
    reads = [0]
    stop = threading.Event()

    def writer(w: int) -> None:
        try:
            for f in files[w]:
                if w % 2:  # half through the CLI, half through the library
                    assert main(["-q", "-w", str(folder), "ingest", "positions", str(f)]) == 0
                else:
                    assert sitewatch.open(folder).ingest("positions", f).accepted > 0
        except BaseException as exc:
            errors.append(exc)

    def reader() -> None:
        try:
            rw = sitewatch.open(folder)
            while not stop.is_set():
                assert s.get("/api/sites")[0] == 200
                rw.events(limit=5)
                rw.positions(limit=100)
                reads[0] += 1
        except BaseException as exc:
            errors.append(exc)

    t0 = time.monotonic()
    try:
        threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        threads += [threading.Thread(target=reader) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads[:4]:
            t.join(300)
        stop.set()
        for t in threads[4:]:
            t.join(60)
        elapsed = time.monotonic() - t0
    finally:
        stop.set()
        assert s.stop() == 0
    with contextlib.redirect_stdout(sys.stderr):
        print(f"{sum(len(x) for x in files)} files by 4 writers with {reads[0]} reads in {elapsed:.1f} s")
    assert not errors, errors[:3]
    assert elapsed < 300 and reads[0] >= 4
    assert not owner.path_of(folder).exists(), "the server left its discovery file"
    with Workspace.open(folder) as direct:
        expect = sum(3000 + 100 * k for k in range(3)) * 4
        assert direct.store.count("positions") == expect
        assert direct.store.scalar("SELECT count(*) FROM (SELECT DISTINCT id, t_utc FROM positions)") == expect
        logged = direct.store.rows("SELECT path, accepted FROM ingest_log ORDER BY path")
        assert len(logged) == 12 and sum(r["accepted"] for r in logged) == expect
