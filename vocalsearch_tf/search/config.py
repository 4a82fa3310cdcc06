"""Settings of the search application, and the errors it reports to a user.

The papers rank fixed-length clips; a user's library holds sounds of any length, and a
microphone recording may be empty, silent or far too long. The choices made for that
are here, each with its reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# What the indexer reads (libsndfile through `soundfile`: MP3 needs libsndfile >= 1.1).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff")
INDEX_FORMAT = 1  # bumped when the on-disk layout of an index changes


@dataclass(frozen=True)
class WindowParams:
    """How a library sound becomes candidates: overlapping windows, scored separately; a
    sound's score is its best window's (the issue's suggestion, 4 s windows with a 2 s hop).

    A window is longer than IMINET's input (3.39 s) and TL-IMINET's recording input (3 s):
    each model sees the first part of every window its front-end takes, as it sees the
    first part of a clip in the papers. With a 2 s hop every instant of a sound lies in the
    seen part of some window, except up to 0.6 s at the very end of a sound over 4 s.
    """

    seconds: float = 4.0
    hop_seconds: float = 2.0
    # A file over an hour keeps its first hour of windows (1800 at a 2 s hop); the
    # report names every such file. A bound, so one huge file cannot stall an index.
    max_windows: int = 1800


@dataclass(frozen=True)
class QueryLimits:
    """What counts as a usable imitation."""

    # People imitate a sound in a few seconds; the models hear 3.4 s (IMINET) or 4 s
    # (TL-IMINET). A longer recording is almost surely a mistake (a forgotten stop button).
    max_seconds: float = 60.0
    # Peak below this is a muted or unplugged microphone rather than a quiet imitation.
    silence_dbfs: float = -60.0
    # Leading and trailing stretches this far below the recording's peak are cut before the
    # model hears it: a microphone recording starts with the click and a pause, and the
    # model listens to only the first 3.4 s. None keeps the recording as it is.
    trim_db: float | None = 40.0


WINDOWS = WindowParams()
QUERY_LIMITS = QueryLimits()


@dataclass(frozen=True)
class AnnParams:
    """The approximate index of an embedding model's windows (search/ann.py): FAISS IVF with
    product quantisation, its shortlist re-scored exactly on the stored vectors. The numbers
    are the ones benchmarks/ann.py measured (results/benchmarks/ann.json)."""

    # Where the exact scan stops being cheap: it reads every stored vector per query (about
    # 6 GB/s on 2 cores, so 128 MiB costs ~20 ms, the order of computing the query's own
    # vector), while the ANN's cost barely grows with the library (~2-4 ms). Below this the
    # exact scan is kept: nothing to train, nothing approximate, no extra file.
    min_vector_bytes: int = 128 << 20  # 262 144 windows of 128 floats; 4 660 of IMISOUND's 7 200
    # The coarse quantizer needs data to train on (~sqrt(windows) lists x 39 points each,
    # FAISS's minimum): a smaller library keeps the exact scan whatever its vectors' width.
    min_windows: int = 20_000
    # windows re-scored exactly per query (at least 8 per requested file): re-scoring 2 000
    # rows costs ~1 ms, and with fewer the 4-bit codes' coarse order loses true top-10 files
    shortlist: int = 2_000
    nprobe: int = 64  # inverted lists visited per query (of ~1 000 at a million windows)
    lists_per_sqrt_window: float = 1.0  # nlist ~ sqrt(windows), a power of two in [min_lists, max_lists]
    min_lists: int = 64
    max_lists: int = 8192
    dims_per_code: int = 2  # PQ: a 4-bit code (16 centroids) per 2 dimensions, 32 bytes at 128
    max_coded_dims: int = 256  # wider vectors (IMISOUND: 7200) are reduced by PCA first
    opq: bool = False  # an OPQ rotation before PQ: measured, it did not pay here (see ann.json)
    train_sample: int = 100_000  # windows the codebooks are trained on, sampled from the library
    # Codebooks trained on a library are reused by later generations (codes of unchanged
    # files are carried over, new windows encoded) until it has grown this many times.
    retrain_growth: float = 4.0
    # A search for more files than this ranks the whole library exactly (e.g. an evaluation).
    max_top: int = 100
ANN = AnnParams()


@dataclass(frozen=True)
class GuardParams:
    """The built-in fusion's guard on its learned part (search/fusion.py, `guarded_logits`).
    A network trained on the embedded pairs has ranked real imitations at chance while
    confident (the maintainers' independent check); the training-free parts never learnt
    what could fail to carry. Per query, the learned part counts only as far as its ranking
    of the library is related to theirs (|Spearman|): a part at chance is independent of them.
    Measured on the development check (`fusion-guarded`, README): .364 against the unguarded
    .382 when IMINET carries, .301 against .222 when its scores are shuffled."""

    # Unrelated rankings of n sounds agree with standard deviation 1/sqrt(n-1): full trust
    # needs |agreement| beyond z of them (exceeded by chance ~5 % of the time)...
    z: float = 2.0
    # ... and at least this, however large the library: faint agreement is no evidence.
    floor: float = 0.1
    width: float = 0.05  # agreement over which the part's weight rises from 0 to full
GUARD = GuardParams()


def default_index_root() -> Path:
    """Where indexes live: $VOCALSEARCH_INDEX_DIR, else $XDG_CACHE_HOME/vocalsearch, else
    ~/.cache/vocalsearch. Never inside a user's library folder."""
    if os.environ.get("VOCALSEARCH_INDEX_DIR"):
        return Path(os.environ["VOCALSEARCH_INDEX_DIR"]).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache).expanduser() / "vocalsearch"


class SearchError(Exception):
    """A problem a user can fix, with a message that says what and how."""


class LibraryError(SearchError):
    """The library folder is missing, holds no audio, or cannot host an index."""


class ModelLoadError(SearchError):
    """A model name or file that cannot be used for search."""


class NotIndexedError(SearchError):
    """The library has no index for this model (it may have one for others)."""


class StaleIndexError(NotIndexedError):
    """The library was indexed with an earlier version of this model (its weights changed)."""


class QueryError(SearchError):
    """An imitation that cannot be used: empty, silent, too long, or not audio."""


class IndexBusyError(SearchError):
    """Another process is indexing the same library with the same model."""


class IndexDamagedError(SearchError):
    """An index file is missing, truncated or corrupted; indexing the library again rebuilds it."""

    def __init__(self, message: str, path: str | Path | None = None):
        super().__init__(message)
        self.path = Path(path) if path is not None else None


class IndexWriteError(SearchError):
    """The index folder cannot be written: the disk is full, it is read-only, or not permitted."""


class AnnUnusableWarning(UserWarning):
    """An approximate index file is missing, truncated or corrupted: searches scan exactly."""
