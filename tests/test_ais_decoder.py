"""The columnar AIS decoder against pyais 3.3.1 (the oracle): every field we decode equals pyais's."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from conftest import shared

pyais = pytest.importorskip("pyais")
from pyais.constants import EpfdType, ShipType  # noqa: E402
from pyais.messages import NMEAMessage  # noqa: E402
from pyais.stream import FileReaderStream  # noqa: E402

from sitewatch.aisdec import decode  # noqa: E402

_ALPHABET = bytes([*range(48, 88), *range(96, 120)])


def _pyais(payload: bytes, fill: int) -> dict[str, Any] | None:
    try:
        return NMEAMessage(b"!AIVDM,1,1,,A," + payload + b"," + str(fill).encode() + b"*00").decode().asdict()
    except Exception:  # pyais refuses it (empty payload, unknown type …)
        return None


def _ours(value: Any, name: str, layout: str) -> Any:
    """Our value as pyais reports it: pyais folds undefined codes of two enums, we keep raw codes."""
    if value is None:
        return None
    v = value.item() if hasattr(value, "item") else value
    if name == "ship_type" and layout in ("static_voyage", "class_b_ext"):
        return int(ShipType.from_value(v))
    if name == "epfd":
        return int(EpfdType.from_value(v))
    return v


def _theirs(v: Any) -> Any:
    if v is None or isinstance(v, str | bool):
        return v
    return float(v) if isinstance(v, float) else int(v)


def check_against_pyais(payloads: list[bytes], fills: list[int]) -> tuple[int, int]:
    """Compare every decoded field; return (fields compared, messages we reject that pyais takes)."""
    d = decode(payloads, fills)
    compared = 0
    ours_only_rejects = 0
    for layout, g in d.groups.items():
        for j, i in enumerate(g.index.tolist()):
            ref = _pyais(payloads[i], fills[i])
            assert ref is not None, f"we decode {payloads[i]!r} (fill {fills[i]}), pyais refuses it"
            for name, col in g.cols.items():
                ours = _ours(col[j] if g.present(name)[j] else None, name, layout)
                assert name in ref, f"{layout}.{name} unknown to pyais for {payloads[i]!r}"
                assert ours == _theirs(ref[name]), (payloads[i], fills[i], layout, name, ours, ref[name])
                compared += 1
    for i in np.flatnonzero(~d.ok).tolist():
        if _pyais(payloads[i], fills[i]) is not None:
            ours_only_rejects += 1
            # our stricter policy: under 38 bits, or type 0 / 28+ that pyais maps to other classes
            assert d.reason[i] in ("payload too short to hold an MMSI (under 38 bits)", "unknown message type")
    return compared, ours_only_rejects


def _sample_files() -> list[Path]:
    folder = shared("data/ais/pyais-samples")
    return sorted(p for p in folder.iterdir() if p.name != "LICENSE")


def test_every_field_equals_pyais_on_the_samples() -> None:
    payloads: list[bytes] = []
    fills: list[int] = []
    for path in _sample_files():
        for msg in FileReaderStream(str(path)):
            payloads.append(msg.payload)
            fills.append(msg.fill_bits)
    # the single sentences of the big sample one by one, orphaned first fragments included
    for line in shared("data/ais/pyais-samples/nmea_data_sample.txt").read_bytes().splitlines():
        parts = line.split(b",")
        payloads.append(parts[5])
        fills.append(int(parts[6][:1]))
    compared, _ = check_against_pyais(payloads, fills)
    d = decode(payloads, fills)
    kinds = {k: len(g) for k, g in d.groups.items()}
    assert kinds["class_a"] > 1500 and kinds["static_voyage"] >= 20 and kinds["class_b"] > 30
    assert {"base_station", "static_a", "static_b"} <= set(kinds)
    assert compared > 20_000
    assert int((d.reason == "empty payload").sum()) == 200  # the 100 empty sentences, read twice above


def test_every_field_equals_pyais_on_random_payloads() -> None:
    """Random bits under every decoded type and length, short and cut messages included."""
    rnd = random.Random(20241208)
    payloads, fills = [], []
    for _ in range(6000):
        t = rnd.choice([1, 2, 3, 4, 5, 11, 18, 19, 24, 24, 27, rnd.randrange(64)])
        n = rnd.choice([7, 10, 16, 17, 27, 28, 29, 30, 35, 40, 60, 70, 71, 72, rnd.randrange(1, 90)])
        payloads.append(bytes([_ALPHABET[t]]) + bytes(rnd.choice(_ALPHABET) for _ in range(n - 1)))
        fills.append(rnd.randrange(6))
    compared, ours_only = check_against_pyais(payloads, fills)
    assert compared > 50_000
    assert ours_only < len(payloads) // 4


def test_decoded_values_by_hand() -> None:
    d = decode([b"15NBj>PP1gG>1PVKTDTUJOv00<0M",
                b"55?MbV02;H;s<HtKR20EHE:0@T4@Dn2222222216L961O5Gf0NSQEp6ClRp888888888880"], [0, 2])
    a = d.groups["class_a"]
    assert int(a.cols["mmsi"][0]) == 367309370 and a.cols["speed"][0] == 11.1
    assert a.cols["lat"][0] == 48.177737 and a.cols["lon"][0] == -122.765622 and a.cols["heading"][0] == 511
    s = d.groups["static_voyage"]
    assert (s.cols["shipname"][0], s.cols["callsign"][0], s.cols["destination"][0]) == ("EVER DIADEM", "3FOF8",
                                                                                        "NEW YORK")
    assert int(s.cols["imo"][0]) == 9134270 and s.cols["draught"][0] == 12.2 and int(s.cols["ship_type"][0]) == 70


@pytest.mark.parametrize(("payload", "fill", "reason"), [
    (b"", 0, "empty payload"),
    (b"15NBj>PP1gG>1PVKTDTUJOv00<0M", 6, "fill bits not 0-5"),
    (b"15NBj>PP1gG>1PVKTDTUJOv00<0{", 0, "character outside the AIS payload alphabet"),
    (b"15NB", 0, "payload too short to hold an MMSI (under 38 bits)"),
])
def test_rejects_carry_a_reason(payload: bytes, fill: int, reason: str) -> None:
    d = decode([payload], [fill])
    assert d.reason[0] == reason and not d.groups


def test_type_24_part_2_is_rejected() -> None:
    # type 24 ('H'), then zeros; '8' (001000) as bits 36-41 puts 10 in the part number bits 38-39
    d = decode([b"H00000" + b"8" + b"0" * 20], [0])
    assert d.reason[0] == "type 24 with part number 2 or 3"


def test_a_bad_character_anywhere_rejects_only_its_message() -> None:
    """Characters past a layout's last field are still checked, message by message."""
    rnd = random.Random(7)
    payloads, expect_bad = [], []
    for _ in range(400):
        t = rnd.choice([1, 5, 18, 24])
        n = rnd.choice([28, 29, 40, 71, 80, 90])
        p = bytearray([_ALPHABET[t]]) + bytearray(rnd.choice(_ALPHABET) for _ in range(n - 1))
        bad = rnd.random() < 0.3
        if bad:
            p[rnd.randrange(7, n)] = rnd.choice(b"XYZ[\\]^_!{|}~ ")
        payloads.append(bytes(p))
        expect_bad.append(bad)
    d = decode(payloads, [0] * len(payloads))
    got_bad = d.reason == "character outside the AIS payload alphabet"
    assert got_bad.tolist() == expect_bad


def test_blocks_join_to_the_same_result(monkeypatch: pytest.MonkeyPatch) -> None:
    """Large inputs are decoded block by block: the joined result is the one-block result."""
    import importlib

    dec = importlib.import_module("sitewatch.aisdec.decode")
    rnd = random.Random(11)
    payloads, fills = [], []
    for _ in range(3000):
        t = rnd.choice([1, 3, 5, 18, 19, 24, 27, 4, 8, 0])
        n = rnd.choice([10, 28, 30, 60, 71, rnd.randrange(1, 90)])
        payloads.append(bytes([_ALPHABET[t]]) + bytes(rnd.choice(_ALPHABET + b"!") for _ in range(n - 1)))
        fills.append(rnd.randrange(7))
    whole = decode(payloads, fills)
    monkeypatch.setattr(dec, "BLOCK", 97)
    parts = decode(payloads, fills)
    assert parts.msg_type.tolist() == whole.msg_type.tolist()
    assert parts.reason.tolist() == whole.reason.tolist() and parts.other.tolist() == whole.other.tolist()
    assert parts.groups.keys() == whole.groups.keys()
    for name, g in whole.groups.items():
        h = parts.groups[name]
        assert h.index.tolist() == g.index.tolist()
        for k, col in g.cols.items():
            assert h.cols[k].tolist() == col.tolist(), (name, k)
            assert h.present(k).tolist() == g.present(k).tolist(), (name, k)
