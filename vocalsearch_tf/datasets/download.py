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
- ESC-50: GitHub's zip of the repository's master branch (`ESC-50-master/meta`, `/audio`).
- SONYC-UST: version 1 (DCASE 2019, Zenodo record 2590742: annotations.csv, audio.tar.gz,
  dcase-ust-taxonomy.yaml) or 2.x (Zenodo 3966543: annotations.csv, md5 given by the record,
  the taxonomy, audio-0.tar.gz .. audio-18.tar.gz with the md5s the soundata loader lists for
  that record). Only what is asked for is fetched: the annotations and taxonomy always, the
  audio archives unless `audio_parts=[]` (v2: any subset of 0..18). Files without a known
  checksum have theirs recorded on first download. The clips are gathered in `audio/`.
- VimSketch: Zenodo record 2596911, `Vim_Sketch_Dataset.zip` (CC BY 4.0), the URL the QVIM
  challenge baseline downloads; its checksum is recorded on first download. Some unzip
  tools are reported to fail on this archive; Python's zipfile (pooch.Unzip) is used.
- Vocal Imitation Set: Zenodo record 1340763, `VocalImitationSet_v1.1.3.zip`, md5 as the HEAR
  benchmark's preprocessing lists it.
- VoxForge: one `.tgz` per recording session, listed in per-language HTTP directory
  listings of 16 kHz 16-bit audio; only as many sessions as requested are fetched.
"""

from __future__ import annotations

import json
import os
import re
import shutil
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
    # ESC-50 (Piczak 2015; CC BY-NC 3.0): GitHub's archive of the master branch
    "esc50": Archive("https://github.com/karolpiczak/ESC-50/archive/master.zip",
                     "md5:7771e4b9d86d0945acce719c7a59305a", "ESC-50-master.zip"),
    # VimSketch (Kim, Cartwright, Pishdadian & Pardo; CC BY 4.0): VocalSketch + the Vocal Imitation Set
    "vimsketch": Archive("https://zenodo.org/records/2596911/files/Vim_Sketch_Dataset.zip", None,
                         "Vim_Sketch_Dataset.zip"),
    "vocal_imitation_set": Archive("https://zenodo.org/records/1340763/files/VocalImitationSet_v1.1.3.zip",
                                   "md5:386e7b1487fe0800ade4916c344086bc", "VocalImitationSet_v1.1.3.zip"),
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


def download_esc50(dest: Path, archive: Archive = ARCHIVES["esc50"]) -> Path:
    fetch(archive, dest / ".cache", pooch.Unzip(extract_dir=str((dest / "esc50").resolve())))
    return _folder_with(dest / "esc50", "esc50.csv").parent  # above meta/


def download_vimsketch(dest: Path, archive: Archive = ARCHIVES["vimsketch"]) -> Path:
    fetch(archive, dest / ".cache", pooch.Unzip(extract_dir=str((dest / "vimsketch").resolve())))
    return _folder_with(dest / "vimsketch", "reference_file_names.csv")


def download_vocal_imitation_set(dest: Path, archive: Archive = ARCHIVES["vocal_imitation_set"]) -> Path:
    fetch(archive, dest / ".cache", pooch.Unzip(extract_dir=str((dest / "vocal_imitation_set").resolve())))
    return _folder_with(dest / "vocal_imitation_set", "vocal_imitations.txt")


SONYC_UST_RECORDS = {1: "https://zenodo.org/records/2590742/files/", 2: "https://zenodo.org/records/3966543/files/"}
SONYC_UST_V2_AUDIO_MD5 = (
    "bbb4dbae7d2e58e18d24878b9ee1eb51", "7c369ff37ac6a1fdd8493fdffe62e0a1", "412241c063d7f196953d3dd1c44aeb5e",
    "d2a872392d95993a2c238d305b940812", "b15b0e0cb3f8584259ef0d24293a9be3", "de745f887067433757a2f2c8f99f99bb",
    "b0286c67468369d66336f6f5ddede31f", "ff300183ab7a9d3f2f74c3b730ffeb52", "7be76b821fa6dbe20f6b50ca440e1024",
    "959f7edfbb26eadad9865069f38aa9dd", "84e94de273666c537a3e6b709ee88d9b", "44fe1f43121a7d1178aa0cdf7477793b",
    "a7eb21011f460b5ac289f8e285e875ab", "27945a8b1008eec787f97213164951e6", "fb8c7d81c3bde3a0c86c1e55e6a85a24",
    "f6af9b65d876ef96d199b9e5f0473cb9", "e8337c61a90c30989d500f950fbe443a", "3e47e85eb4564a30fe7f442ee97ec7b9",
    "c6b2ef4d0d5b7269d465c469cdbbdc4b")


def sonyc_ust_archives(version: int = 1, base_url: str | None = None) -> dict[str, Archive]:
    """The files of a SONYC-UST release: metadata first, then the audio archives in order."""
    if version not in SONYC_UST_RECORDS:
        raise ValueError(f"SONYC-UST version {version!r}: choose 1 (DCASE 2019) or 2 (2.x)")
    url = base_url or SONYC_UST_RECORDS[version]
    tag = f"sonyc-ust-v{version}"
    files = {"annotations.csv": "md5:70b507b15bb4cfcce4870925302f276b" if version == 2 else None,
             "dcase-ust-taxonomy.yaml": None}
    if version == 1:
        files["audio.tar.gz"] = None
    else:
        files.update({f"audio-{k}.tar.gz": f"md5:{md5}" for k, md5 in enumerate(SONYC_UST_V2_AUDIO_MD5)})
    return {name: Archive(url + name, known, f"{tag}-{name}") for name, known in files.items()}


def download_sonyc_ust(dest: Path, version: int = 1, audio_parts=None, base_url: str | None = None) -> Path:
    """`dest/sonyc_ust_v<version>/` with annotations.csv, the taxonomy and `audio/`; `audio_parts`:
    None = every audio archive, [] = none; v1 has one (part 0), v2 nineteen (0..18)."""
    root = Path(dest) / f"sonyc_ust_v{version}"
    (root / "audio").mkdir(parents=True, exist_ok=True)
    archives = sonyc_ust_archives(version, base_url)
    audio = [name for name in archives if name.startswith("audio")]
    if audio_parts is not None:
        wanted = {"audio.tar.gz" if version == 1 and k == 0 else f"audio-{k}.tar.gz" for k in audio_parts}
        unknown = wanted - set(audio)
        if unknown:
            raise ValueError(f"SONYC-UST v{version} has no {sorted(unknown)}; its audio archives are {audio}")
        audio = [name for name in audio if name in wanted]
    cache = Path(dest) / ".cache" / "sonyc_ust"
    for name in ("annotations.csv", "dcase-ust-taxonomy.yaml"):
        shutil.copyfile(fetch(archives[name], cache), root / name)
    for name in audio:
        unpacked = root / f".unpacked-{name}"
        fetch(archives[name], cache, pooch.Untar(extract_dir=str(unpacked.resolve())))
        for wav in unpacked.rglob("*.wav"):  # the archives' inner folders differ: gather every clip
            os.replace(wav, root / "audio" / wav.name)
    return root


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


def download(name: str, dest: str | Path, sessions_per_language: int = 300, sonyc_version: int = 1,
             sonyc_parts=None) -> Path:
    dest = Path(dest)
    if name == "sonyc-ust":
        return download_sonyc_ust(dest, sonyc_version, sonyc_parts)
    if name == "urbansound8k":
        return download_urbansound8k(dest)
    if name == "vocalsketch":
        return download_vocalsketch(dest)
    if name == "voxforge":
        return download_voxforge(dest, sessions_per_language)
    if name == "esc50":
        return download_esc50(dest)
    if name == "vimsketch":
        return download_vimsketch(dest)
    if name == "vocal-imitation-set":
        return download_vocal_imitation_set(dest)
    raise ValueError(f"unknown dataset {name!r}; choose vocalsketch, urbansound8k, voxforge, esc50, vimsketch "
                     "or vocal-imitation-set")
