"""Debian packages as a data source, without root: `apt-get download`, then `dpkg-deb -x`
under a cache folder (the embedded data's sound font, the development check's real sounds)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


class PackageToolError(RuntimeError):
    """apt-get or dpkg-deb is missing or failed."""


def package_root(cache: Path, name: str) -> Path:
    return Path(cache) / "root" / name


def fetch_debian(cache: str | Path, packages) -> dict[str, Path]:
    """Download each Debian package with `apt-get download` (no root needed) and unpack it
    with `dpkg-deb -x` under `<cache>/root/<package>/`. A package unpacked before is kept.
    Returns package -> unpacked root."""
    cache = Path(cache)
    roots = {}
    todo = [p for p in packages if not (package_root(cache, p) / ".unpacked").exists()]
    if todo:
        for tool in ("apt-get", "dpkg-deb"):
            if shutil.which(tool) is None:
                raise PackageToolError(
                    f"{tool} not found: these sounds come from Debian packages "
                    f"({', '.join(todo)}); on a Debian or Ubuntu machine run `apt-get download` and "
                    f"`dpkg-deb -x <deb> {cache}/root/<package>` by hand, or unpack them there some other way")
        debs = cache / "debs"
        debs.mkdir(parents=True, exist_ok=True)
    for name in packages:
        root = package_root(cache, name)
        if name in todo:
            existing = sorted(debs.glob(f"{name}_*.deb"))
            if not existing:
                run = subprocess.run(["apt-get", "download", name], cwd=debs, capture_output=True, text=True)
                existing = sorted(debs.glob(f"{name}_*.deb"))
                if run.returncode != 0 or not existing:
                    raise PackageToolError(f"apt-get download {name} failed (exit {run.returncode}): "
                                           f"{(run.stderr or run.stdout).strip()[-500:]}; "
                                           "run `apt-get update` first if the package lists are missing")
            if root.exists():
                shutil.rmtree(root)
            root.mkdir(parents=True)
            run = subprocess.run(["dpkg-deb", "-x", str(existing[-1]), str(root)], capture_output=True, text=True)
            if run.returncode != 0:
                raise PackageToolError(f"dpkg-deb -x {existing[-1]} failed: {run.stderr.strip()[-500:]}")
            (root / ".unpacked").write_text(existing[-1].name + "\n")
        roots[name] = root
    return roots


def package_version(cache: Path, name: str) -> str:
    marker = package_root(cache, name) / ".unpacked"
    return marker.read_text().strip() if marker.exists() else "unknown"
