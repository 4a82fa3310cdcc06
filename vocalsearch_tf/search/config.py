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
