"""Downloads of the real datasets with pooch: checksums, a cache, resumable transfers.

`download(name, dest)` fetches an archive into `dest/.cache`, verifies it, unpacks it
under `dest/<name>` and returns the folder a loader reads. A re-run skips what is done;
an interrupted transfer resumes from where it stopped (HTTP Range); a checksum mismatch
is an error that names the file and both hashes.

Notes on the sources:
- UrbanSound8K: Zenodo record 1203745, `UrbanSound8K.tar.gz`, md5 given by the record.
- VocalSketch v1.0.4: Zenodo record 164926 (v1.0.x). Its checksum could not be read from
  here (no internet), so the first download records it in `dest/.cache/hashes.json`
  and later runs verify against that. VocalSketch does not redistribute the 120
  "everyday" recordings: get them from Marcell et al.'s confrontation-naming set and
  rename them with the data set's `everyday_filename_translation.csv`; until then the
  loader reports them missing.
- VoxForge: one `.tgz` per recording session, listed in per-language HTTP directory
  listings of 16 kHz 16-bit audio; only as many sessions as requested are fetched.
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

import pooch


@dataclass(frozen=True)
class Archive:
    url: str
    known_hash: str | None  # "md5:..." / "sha256:..."; None = record on first download
    fname: str


ARCHIVES = {
    "urbansound8k": Archive("https://zenodo.org/records/1203745/files/UrbanSound8K.tar.gz",
                            "md5:9aa69802bbf37fb986f71ec1483a196e", "UrbanSound8K.tar.gz"),
    "vocalsketch": Archive("https://zenodo.org/records/164926/files/vocal_sketch_data_set_v1.0.4.zip",
                           None, "vocalsketch_v1.0.4.zip"),
}
VOXFORGE_ROOT = "http://www.repository.voxforge1.org/downloads/"
VOXFORGE_LISTINGS = {
    lang: urljoin(VOXFORGE_ROOT, f"{'SpeechCorpus' if lang == 'en' else lang}/Trunk/Audio/Main/16kHz_16bit/")
    for lang in ("nl", "en", "fr", "de", "it", "ru", "es")
}
CHUNK = 1 << 16


class ChecksumMismatchError(ValueError):
    pass


class ResumableDownload:
    """A pooch downloader that keeps a stable `.partial` file and resumes it with an
    HTTP Range request, so an interrupted transfer continues instead of starting over."""

    def __init__(self, partial: Path, timeout: float = 60.0):
        self.partial = Path(partial)
        self.timeout = timeout

    def __call__(self, url, output_file, pooch_instance=None, check_only=False):
        if check_only:
            return self._exists(url)
        self.partial.parent.mkdir(parents=True, exist_ok=True)
        have = self.partial.stat().st_size if self.partial.exists() else 0
        request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            if error.code != 416:  # 416: nothing left to fetch
                raise
        else:
            with response:
                resumed = have and response.status == 206
                total = _expected_size(response, have if resumed else 0)
                with open(self.partial, "ab" if resumed else "wb") as out:
                    while chunk := response.read(CHUNK):
                        out.write(chunk)
            got = self.partial.stat().st_size
            if total is not None and got < total:
                raise ConnectionError(f"{url}: transfer interrupted after {got} of {total} bytes; "
                                      f"run the download again to resume from {self.partial}")
        os.replace(self.partial, output_file)

    def _exists(self, url) -> bool:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=self.timeout):
                return True
        except urllib.error.URLError:
            return False


def _expected_size(response, offset: int) -> int | None:
    """Full size of the file from Content-Range (resumed) or Content-Length."""
    content_range = response.headers.get("Content-Range", "")
    if "/" in content_range and not content_range.endswith("/*"):
        return int(content_range.rsplit("/", 1)[1])
    length = response.headers.get("Content-Length")
    return offset + int(length) if length is not None else None


def fetch(archive: Archive, cache: Path, processor=None):
    """Download (or find) one archive in `cache`, check it, unpack it with `processor`."""
    cache.mkdir(parents=True, exist_ok=True)
    hashes_file = cache / "hashes.json"
    hashes = json.loads(hashes_file.read_text()) if hashes_file.exists() else {}
    known = archive.known_hash or hashes.get(archive.fname)
    try:
        result = pooch.retrieve(archive.url, known, fname=archive.fname, path=cache,
                                processor=processor, downloader=ResumableDownload(cache / (archive.fname + ".partial")),
                                progressbar=False)
    except ValueError as error:
        if "hash" not in str(error).lower():
            raise
        raise ChecksumMismatchError(
            f"{archive.fname} from {archive.url} failed its checksum ({error}). The damaged file "
            f"was removed; run the download again, and if it fails again the source has changed."
        ) from error
    if archive.known_hash is None and archive.fname not in hashes:
        hashes[archive.fname] = "sha256:" + pooch.file_hash(str(cache / archive.fname))
        hashes_file.write_text(json.dumps(hashes, indent=2) + "\n")
    return result


def _folder_with(root: Path, marker: str) -> Path:
    """The folder under `root` that holds `marker` (archives nest their top folder)."""
    hits = sorted(root.rglob(marker), key=lambda p: len(p.parts))
    if not hits:
        raise FileNotFoundError(f"{root}: unpacked archive holds no {marker}")
    return hits[0].parent


def download_urbansound8k(dest: Path, archive: Archive = ARCHIVES["urbansound8k"]) -> Path:
    fetch(archive, dest / ".cache", pooch.Untar(extract_dir=str((dest / "urbansound8k").resolve())))
    return _folder_with(dest / "urbansound8k", "UrbanSound8K.csv").parent  # above metadata/


def download_vocalsketch(dest: Path, archive: Archive = ARCHIVES["vocalsketch"]) -> Path:
    fetch(archive, dest / ".cache", pooch.Unzip(extract_dir=str((dest / "vocalsketch").resolve())))
    return _folder_with(dest / "vocalsketch", "sound_recordings.csv")


def list_sessions(listing_url: str, timeout: float = 60.0) -> list[str]:
    """Session archive names (`*.tgz`) in an HTTP directory listing, sorted."""
    with urllib.request.urlopen(listing_url, timeout=timeout) as response:
        page = response.read().decode("utf-8", errors="replace")
    names = {unescape(m) for m in re.findall(r'href="([^"?/]+\.tgz)"', page)}
    return sorted(names)


def pick_sessions(names: list[str], count: int) -> list[str]:
    """Up to `count` sessions of distinct speakers (the user part of `user-date-tag`;
    'anonymous' sessions count as distinct)."""
    chosen, users = [], set()
    for name in names:
        user = name.split("-")[0]
        if user.lower() != "anonymous" and user in users:
            continue
        users.add(user)
        chosen.append(name)
        if len(chosen) == count:
            break
    return chosen


def download_voxforge(dest: Path, sessions_per_language: int, languages=tuple(VOXFORGE_LISTINGS),
                      listings: dict[str, str] = VOXFORGE_LISTINGS) -> Path:
    root = dest / "voxforge"
    for language in languages:
        names = pick_sessions(list_sessions(listings[language]), sessions_per_language)
        for name in names:
            archive = Archive(urljoin(listings[language], name), None, f"voxforge-{language}-{name}")
            fetch(archive, dest / ".cache" / "voxforge", pooch.Untar(extract_dir=str((root / language).resolve())))
    return root


def download(name: str, dest: str | Path, sessions_per_language: int = 300) -> Path:
    dest = Path(dest)
    if name == "urbansound8k":
        return download_urbansound8k(dest)
    if name == "vocalsketch":
        return download_vocalsketch(dest)
    if name == "voxforge":
        return download_voxforge(dest, sessions_per_language)
    raise ValueError(f"unknown dataset {name!r}; choose vocalsketch, urbansound8k or voxforge")
