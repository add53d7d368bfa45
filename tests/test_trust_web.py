"""The dashboard server tried hard: schemathesis over our own OpenAPI spec, every route without a
valid token, injection in every query parameter, traversal, bodies, headers.

Extends ``tests/test_web.py`` (same seeded workspace and server helpers, bound as if on
0.0.0.0 so that every request needs a token) instead of repeating it:

* **schemathesis**: every operation of ``/openapi.json``, positive and negative cases, with a
  read token (and a write token for writes): no response is a 5xx; every one carries the safe
  headers; the positions and events tables are unchanged afterwards;
* **refused**: every route in the spec (plus the pages and static files) without a token, with
  a forged token, with a read token for writes, and with the token in the query string of an
  API route → 401/403, never data;
* **injection**: SQL, path, template and script payloads in every query parameter of every GET
  operation → 4xx or a 2xx that did not execute them (tables intact, no script echoed as HTML).

Fuzzing (schemathesis, injection) runs against the loopback binding, where reads need no
token, so that each request does not pay for a scrypt check; auth is tested on the public one.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from tests.test_web import _seed, _Server, req

EXAMPLES = int(os.environ.get("SITEWATCH_API_EXAMPLES", "8"))
SAFE = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")
ENDLESS = ("/api/stream",)  # server-sent events: tested for auth only
INJECT = ["' OR 1=1--", "x'; DROP TABLE positions; --", '"; DELETE FROM events; --', "../../../../etc/passwd",
          "..%2F..%2Fsecret.txt", "<script>alert(1)</script>", "{{7*7}}", "${jndi:ldap://127.0.0.1/a}",
          "%00", "\x00", "1e309", "-1", "NaN", "A" * 5000, "hmeimim\r\nSet-Cookie: a=b", "*", "%", "_",
          "1 UNION SELECT hash, salt FROM tokens"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[_Server, dict[str, str], dict[str, Any]]]:
    folder = tmp_path_factory.mktemp("trustweb") / "ws"
    tokens = _seed(folder)
    s = _Server(folder, "0.0.0.0")
    code, _, body = req(s.base, "/openapi.json", tokens["read"])
    assert code == 200
    yield s, tokens, json.loads(body)
    s.stop()


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory,
          server: tuple[_Server, dict[str, str], dict[str, Any]]) -> Iterator[tuple[_Server, dict[str, str], Any]]:
    """The app bound to loopback: reads need no token (no scrypt per request), so fuzzing is quick."""
    folder = tmp_path_factory.mktemp("trustlocal") / "ws"
    tokens = _seed(folder)
    s = _Server(folder, "127.0.0.1")
    yield s, tokens, server[2]
    s.stop()


def _sample_path(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: {"{name}": "hmeimim", "{ident}": "151abc"}.get(m.group(0), "x1"), path)


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, item in spec["paths"].items() for m, op in item.items()
            if m in ("get", "post", "put", "patch", "delete")]


def _counts(s: _Server) -> tuple[int, int, int]:
    st = s.app.state.ws.store
    return st.count("positions"), st.count("events"), st.count("tokens") if "tokens" in _tables(s) else 0


def _tables(s: _Server) -> set[str]:
    return {r["table_name"] for r in s.app.state.ws.store.rows("SELECT table_name FROM information_schema.tables")}


def test_every_route_refuses_requests_without_a_valid_token(server: tuple[_Server, dict[str, str], Any]) -> None:
    s, tok, spec = server
    ops = _operations(spec)
    assert len(ops) >= 10, "the spec lost its routes"
    refused = 0
    real = tok["read"]
    last = "y" if real[-1] == "x" else "x"  # a forged token must differ from the real one (it once ended in "x")
    forged = ["swt_deadbeef_" + "A" * 32, "swt_" + real[4:-1], "swt__", "swt_" + "x" * 300,
              real.swapcase(), real[:-1] + last, f"Basic {real}"]
    assert real not in forged
    targets = [(m, _sample_path(p)) for m, p, _ in ops] + [
        ("GET", "/"), ("GET", "/openapi.json"), ("GET", "/static/index.html"), ("GET", "/docs"), ("GET", "/redoc")]
    for method, path in targets:
        body = b"{}" if method != "GET" else None
        code, headers, _ = req(s.base, path, None, method, body)
        assert code == 401 and all(h in headers for h in SAFE), (method, path, code)
        refused += 1
        for f in forged:
            h = {"Authorization": f if f.startswith("Basic") else f"Bearer {f}"}
            code, _, _ = req(s.base, path, None, method, body, headers=h)
            assert code == 401, (method, path, f, code)
            refused += 1
        code, _, _ = req(s.base, path, None, method, body, headers={"Cookie": "sw_token=swt_deadbeef_x"})
        assert code == 401
        refused += 1
        if path.startswith("/api/"):  # the ?token= link exchange works on "/" only
            code, _, _ = req(s.base, f"{path}?token={tok['read']}", None, method, body)
            assert code == 401, (method, path, "token in the query string of an API route")
            refused += 1
        if method != "GET":
            code, _, _ = req(s.base, path, tok["read"], method, body)
            assert code == 403, (method, path, "read token on a write route")
            refused += 1
    print(f"refused {refused} requests over {len(targets)} routes")


def test_injection_in_every_query_parameter(local: tuple[_Server, dict[str, str], Any]) -> None:
    s, _, spec = local
    code, _, body = req(s.base, "/api/query/two-box?a=hmeimim&b=35.3,35.8,35.6,36.1&min_gap_s=0")
    assert code == 200 and isinstance(json.loads(body), list)  # the route once failed (500) on every call
    before = _counts(s)
    tried = 0
    for method, path, op in _operations(spec):
        if method != "GET" or path in ENDLESS:
            continue
        params = [p for p in op.get("parameters", []) if p.get("in") == "query"]
        required = {p["name"]: _valid(p) for p in params if p.get("required")}
        for p in params:
            for payload in INJECT:
                q = dict(required)
                q[p["name"]] = payload
                url = _sample_path(path) + "?" + "&".join(f"{k}={_quote(v)}" for k, v in q.items())
                code, headers, body = req(s.base, url)
                tried += 1
                assert code < 500, (url, code, body[:200])
                assert all(h in headers for h in SAFE)
                if "text/html" in headers.get("content-type", ""):
                    assert b"<script>alert(1)" not in body, url
                if code == 200:
                    assert b"do not serve me" not in body and b"root:x:0:0" not in body, url
    assert _counts(s) == before, "an injected parameter changed the store"
    assert tried > 50
    print(f"injection: {tried} requests, all < 500, store unchanged")


def _valid(p: dict[str, Any]) -> str:
    sch = p.get("schema", {})
    if sch.get("type") in ("number", "integer"):
        return "35.4" if p["name"] in ("lat", "lon") else "1"
    return {"a": "35.3,35.8,35.6,36.1", "b": "35.3,35.8,35.6,36.1"}.get(p["name"], "hmeimim")


def _quote(v: str) -> str:
    from urllib.parse import quote

    return quote(v, safe="")


def test_path_traversal_bodies_and_methods(server: tuple[_Server, dict[str, str], Any]) -> None:
    s, tok, _ = server
    for path in ["/static/%2e%2e/%2e%2e/secret.txt", "/static/..%5c..%5csecret.txt", "/static//etc/passwd",
                 "/static/%252e%252e/secret.txt", "/api/scenes/%2e%2e%2f%2e%2e%2fsecret.txt/chip",
                 "/api/sites/..%2F..%2Fsecret.txt", "/api/events/..%2Fsecret.txt", "/..%2Fsecret.txt",
                 "/api/subjects/%2e%2e"]:
        code, _, body = req(s.base, path, tok["read"])
        assert code in (400, 404, 422) and b"do not serve me" not in body and b"root:x" not in body, (path, code)
    w = tok["write"]
    for body in [b"[]", b"null", b'{"site": 1}', b'{"site": "hmeimim", "t_utc": "not a time", "text": "x"}',
                 json.dumps({"site": "hmeimim", "t_utc": "2024-12-13", "text": "x" * 3000}).encode(),
                 json.dumps({"site": "../../x", "t_utc": "2024-12-13", "text": "x"}).encode(),
                 json.dumps({"site": "hmeimim", "t_utc": "2024-12-13", "text": "x", "count": 1e309}).encode(),
                 b'{"site": "hmeimim", "t_utc": "2024-12-13", "text": "x", "confidence": NaN}',
                 b'{"a":' * 10_000, b"\xff\xfe\x00", json.dumps({"site": "hmeimim", "t_utc": "2024-12-13",
                                                               "text": "x", "url": "file:///etc/passwd"}).encode()]:
        code, headers, _ = req(s.base, "/api/observations", w, "POST", body)
        assert code in (400, 413, 422), (body[:60], code)
        assert all(h in headers for h in SAFE)
    # an oversized body is refused from its declared length; sending it whole would race the
    # server's early 413 (the client may see a broken pipe), so declare it and send a little
    import http.client

    host, port = s.base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/api/observations")
    conn.putheader("Authorization", f"Bearer {w}")
    conn.putheader("Content-Length", str(1_100_000))
    conn.endheaders()
    conn.send(b"x" * 1000)
    assert conn.getresponse().status == 413
    conn.close()
    for method in ("PUT", "DELETE", "PATCH"):
        assert req(s.base, "/api/sites", w, method, b"{}")[0] in (404, 405)
    code, headers, _ = req(s.base, "/api/sites", tok["read"], "GET", headers={"Origin": "https://evil.example"})
    assert code == 200 and "access-control-allow-origin" not in headers


def test_schemathesis_no_5xx_on_any_operation(local: tuple[_Server, dict[str, str], Any]) -> None:
    import schemathesis
    from schemathesis import GenerationMode

    s, tok, spec = local
    schema = schemathesis.openapi.from_dict(spec)
    before = _counts(s)
    calls = 0
    failures: list[str] = []  # "METHOD path query -> status" of every 5xx
    for result in schema.get_all_operations():
        op = result.ok()
        if op.path in ENDLESS:
            continue
        auth = {"Authorization": f"Bearer {tok['write']}"} if op.method.upper() != "GET" else {}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                strategy = op.as_strategy(generation_mode=mode)
            except TypeError:
                strategy = op.as_strategy()

            calls += _fuzz_operation(s.base, strategy, auth, failures)
    assert not failures, failures[:10]
    positions, events, _ = _counts(s)
    assert (positions, events) == before[:2]
    print(f"schemathesis: {calls} calls, 0 responses ≥ 500")


def _fuzz_operation(base: str, strategy: Any, headers: dict[str, str], failures: list[str]) -> int:
    """Call the operation with ``EXAMPLES`` generated cases; 5xx go to ``failures``; returns calls made."""
    calls = 0

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(case: Any) -> None:
        nonlocal calls
        resp = case.call(base_url=base, headers=headers, timeout=15)
        calls += 1
        if resp.status_code >= 500:
            failures.append(f"{case.method} {case.formatted_path} {case.query} {case.body!r:.80} -> {resp.status_code}")
        for h in SAFE:
            assert h in {k.lower() for k in resp.headers}, (case.method, case.formatted_path, h)

    with contextlib.suppress(Unsatisfiable):  # negative cases of an operation without parameters
        run()
    return calls


def test_loopback_binding_still_needs_a_write_token(local: tuple[_Server, dict[str, str], Any]) -> None:
    s, tokens, _ = local
    assert req(s.base, "/api/sites")[0] == 200  # reads from loopback need no token
    obs = json.dumps({"site": "hmeimim", "t_utc": "2024-12-13", "text": "x"}).encode()
    assert req(s.base, "/api/observations", None, "POST", obs)[0] == 401
    assert req(s.base, "/api/observations", tokens["read"], "POST", obs)[0] == 403
    assert req(s.base, "/api/sites", "swt_deadbeef_forged")[0] == 401  # a forged token is never ignored
