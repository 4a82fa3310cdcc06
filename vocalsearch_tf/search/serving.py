"""The rules for serving the search page beyond this computer (issue 26 part 5).

The page reads whatever folder a visitor types and plays excerpts from it. That is fine
on a loopback address (127.0.0.0/8, ::1, or a name such as `localhost` that resolves only
to those): only this computer reaches it, and the page reads any folder, as it always has.
On any other address, 0.0.0.0 and :: included (they listen on every interface), the page
needs a password and the library folders it may read; every folder typed and every file
played must then resolve, symbolic links followed, inside one of them.

The password comes from $VOCALSEARCH_PASSWORD or a file (--password-file), never from a
command-line argument: `ps` shows those to every user of the machine.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping

from vocalsearch_tf.search.config import SearchError

PASSWORD_VARIABLE = "VOCALSEARCH_PASSWORD"
DEFAULT_USER = "vocalsearch"
MIN_PASSWORD_LENGTH = 8  # the login form has no rate limit: a short password is guessed quickly
APP_DESCRIPTION = f"""Serve the search page.

On 127.0.0.1 (or ::1, localhost: this computer only) the page reads any folder typed into it.
On any other address (0.0.0.0 and :: listen on every interface) other computers reach it, so
it starts only with:
  - a password of at least {MIN_PASSWORD_LENGTH} characters: ${PASSWORD_VARIABLE}, or --password-file FILE
    (its first line); visitors log in with it and the user name --user (default {DEFAULT_USER});
  - one or more --library DIR: visitors index and search only inside these. A folder typed, or a
    file played, that resolves outside them (`..`, a symbolic link leading out) is refused, and
    models are chosen from the list only (no model file paths).
Without them it refuses to start and says what to pass. The page is plain HTTP: beyond a trusted
network, put it behind an HTTPS proxy.

  VOCALSEARCH_PASSWORD='...' vocalsearch app --host 0.0.0.0 --library ~/Sounds --library /srv/fx
"""


class ServingError(SearchError):
    """The page is not started: the message says why and what to pass."""


class OutsideLibrariesError(SearchError):
    """A visitor's path resolves outside the libraries the page may read."""


@dataclass(frozen=True)
class Serving:
    """Where the page listens and what it lets a visitor do there."""

    host: str
    loopback: bool
    libraries: tuple[Path, ...] = ()  # resolved; the first is shown first on the page
    user: str = DEFAULT_USER
    password: str | None = field(default=None, repr=False)

    @property
    def restricted(self) -> bool:
        """Visitors may read only inside `libraries` (always so beyond loopback)."""
        return not self.loopback

    def auth(self) -> list[tuple[str, str]] | None:
        """Gradio's `auth`: the one user name and password, when a password is set."""
        return [(self.user, self.password)] if self.password else None


def _address_is_loopback(text: str) -> bool:
    address = ipaddress.ip_address(text.split("%", 1)[0])  # an IPv6 zone (fe80::1%eth0) is not part of it
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback


def is_loopback(host: str) -> bool:
    """True when every address `host` resolves to is a loopback address.

    Names are resolved as the server will bind them (getaddrinfo: `localhost`, `127.1`,
    `0x7f000001`, `[::1]`); a name that does not resolve, or resolves to any other
    address, counts as not loopback. 0.0.0.0 and :: are every interface, not loopback.
    """
    name = host.strip()
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    if not name:
        return False  # Gradio would fall back to $GRADIO_SERVER_NAME: not ours to guess
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except (OSError, UnicodeError, ValueError):
        return False
    try:
        return bool(addresses) and all(_address_is_loopback(a) for a in addresses)
    except ValueError:
        return False


def read_password(password_file: str | Path | None = None,
                  environ: Mapping[str, str] = os.environ) -> str | None:
    """The password from `password_file` (its first line) or $VOCALSEARCH_PASSWORD; None
    when neither is given. A file given wins over the variable."""
    if password_file is None:
        return environ.get(PASSWORD_VARIABLE) or None
    try:
        text = Path(password_file).expanduser().read_text()
    except (OSError, UnicodeError) as error:
        raise ServingError(f"cannot read the password file {password_file}: {error}") from None
    password = text.splitlines()[0] if text.strip() else ""
    if not password:
        raise ServingError(f"the password file {password_file} is empty: put the password on its first line")
    return password


def _library_problems(libraries: Iterable[str | Path]) -> tuple[tuple[Path, ...], list[str]]:
    found, problems = [], []
    for library in libraries:
        path = Path(library).expanduser().resolve()
        if not path.is_dir():
            problems.append(f"--library {library}: " + ("no such folder" if not path.exists() else "not a folder"))
        elif path not in found:
            found.append(path)
    return tuple(found), problems


def _beyond_loopback_problems(password: str | None, libraries_given: bool) -> list[str]:
    problems = []
    if not password:
        problems.append(f"a password: set ${PASSWORD_VARIABLE}, or pass --password-file FILE "
                        "(not on the command line, where `ps` shows it to every user)")
    elif len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"a password of at least {MIN_PASSWORD_LENGTH} characters (the one given has {len(password)})")
    if not libraries_given:
        problems.append("the library folders visitors may index and search: pass --library DIR "
                        "(repeat it for several); nothing outside them is read")
    return problems


def _refusal(host: str, loopback: bool, problems: list[str]) -> str:
    listed = "".join(f"\n  - {problem}" for problem in problems)
    if loopback:
        return f"vocalsearch app: not started:{listed}"
    return (f"vocalsearch app: not started. --host {host} is not a loopback address: other computers can "
            "reach the page, and the page reads the folders visitors type. Serving beyond this computer "
            f"needs a password and the library folders visitors may read:{listed}\nOr serve on 127.0.0.1 (this computer only).")


def check_serving(host: str, password: str | None, libraries: Iterable[str | Path] = (),
                  user: str = DEFAULT_USER) -> Serving:
    """The rules for serving on `host`; ServingError, saying why and what to pass, when
    the page must not start."""
    loopback = is_loopback(host)
    libraries = list(libraries)
    allowed, problems = _library_problems(libraries)
    if not loopback:
        problems = _beyond_loopback_problems(password, bool(libraries)) + problems
    if not user.strip():
        problems.append("a user name (--user NAME)")
    if problems:
        raise ServingError(_refusal(host, loopback, problems))
    return Serving(host, loopback, allowed, user.strip(), password)


def inside_allowed(path: str | Path, libraries: Iterable[str | Path]) -> bool:
    """True when `path`, resolved (`..` and symbolic links followed), is one of `libraries`
    or lies inside one. Only names and links are looked at: no file is opened."""
    try:
        resolved = Path(path).expanduser().resolve()
    except (OSError, RuntimeError, ValueError):  # a link loop, a NUL byte
        return False
    for library in libraries:
        root = Path(library).resolve()
        if resolved == root or root in resolved.parents:
            return True
    return False


def require_inside(path: str | Path, libraries: Iterable[str | Path], done: str = "read") -> None:
    """OutsideLibrariesError unless `path` resolves inside `libraries`; `done` says what is
    not done ("indexed", "searched"). The message names the path as typed, never where a
    link leads."""
    libraries = tuple(libraries)
    if not inside_allowed(path, libraries):
        names = ", ".join(str(library) for library in libraries)
        raise OutsideLibrariesError(
            f"{path}: outside the library folders this page may read ({names}), so it is not {done}; "
            "`..` and symbolic links that lead out are refused. Type a folder inside one of them.")


def links_leading_out(folder: str | Path, relative_files: Iterable[str],
                      libraries: Iterable[str | Path]) -> list[str]:
    """The files under `folder` (named relative to it) that resolve outside `libraries`:
    symbolic links that lead out, which the indexer would otherwise read."""
    libraries = tuple(libraries)
    return [rel for rel in relative_files if not inside_allowed(Path(folder) / rel, libraries)]


def add_serving_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `vocalsearch app` (and `python -m vocalsearch_tf.search.app`) that say
    where the page listens and who may read what."""
    parser.add_argument("--library", action="append", metavar="DIR",
                        help="a library folder (repeat for several; the first is shown first). On 127.0.0.1 any "
                             "other folder can still be typed; beyond it, visitors index and search only inside these")
    parser.add_argument("--host", default="127.0.0.1",
                        help="the address to listen on (default 127.0.0.1: this computer only). Any address that "
                             "is not loopback (0.0.0.0 and :: included) needs a password and --library")
    parser.add_argument("--port", type=int, default=int(os.environ.get("VOCALSEARCH_PORT", 7860)),
                        help="the port (default $VOCALSEARCH_PORT or 7860)")
    parser.add_argument("--password-file", metavar="FILE", default=None,
                        help=f"a file whose first line is the password visitors give (else ${PASSWORD_VARIABLE}). "
                             "There is no password option: `ps` would show it")
    parser.add_argument("--user", default=DEFAULT_USER, help=f"the user name visitors give (default {DEFAULT_USER})")


def serving_options(args: argparse.Namespace) -> dict:
    """`app.serve`'s keyword arguments from those flags, checked (ServingError when the
    page must not start)."""
    password = read_password(args.password_file)
    check_serving(args.host, password, args.library or [], args.user)
    return {"library": args.library, "host": args.host, "port": args.port, "password": password, "user": args.user}
