"""The rules for serving the search page beyond this computer (vocalsearch_tf.search.serving):
which hosts count as loopback, when the page refuses to start and what it says, and which
paths a visitor may name (`..`, absolute paths and symbolic links that lead out are refused).
Fast: no model, no browser; the page-level checks use SearchPage without a server."""

import os
import socket

import pytest

from vocalsearch_tf.search.serving import (OutsideLibrariesError, ServingError, check_serving, inside_allowed,
                                           is_loopback, links_leading_out, read_password, require_inside)

PASSWORD = "correct horse battery"


@pytest.mark.parametrize("host", ["127.0.0.1", " 127.0.0.1 ", "127.0.0.2", "127.255.255.254", "127.1", "0x7f000001",
                                  "2130706433", "localhost", "LocalHost", "::1", "[::1]", "0:0:0:0:0:0:0:1",
                                  "::ffff:127.0.0.1"])
def test_loopback_spellings(host):
    assert is_loopback(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "0", "::", "[::]", "", "   ", "128.0.0.1", "126.255.255.255",
                                  "192.0.2.2", "10.0.0.1", "fd00::2", "fe80::1%1", "::ffff:192.0.2.2",
                                  "not a host name"])
def test_every_interface_and_other_addresses_are_not_loopback(host):
    assert not is_loopback(host)


def fake_resolver(addresses):
    def getaddrinfo(host, port, *args, **kwargs):
        if addresses is None:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [(socket.AF_INET6 if ":" in a else socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, 0))
                for a in addresses]
    return getaddrinfo


@pytest.mark.parametrize("addresses, loopback", [
    (["127.0.0.1", "::1"], True),  # localhost, both families
    (["127.0.1.1"], True),  # Debian's own host name
    (["127.0.0.1", "192.0.2.7"], False),  # one address beyond loopback is enough to refuse
    (["192.0.2.7"], False),
    (None, False),  # does not resolve
    ([], False),
])
def test_a_name_is_loopback_only_when_all_its_addresses_are(monkeypatch, addresses, loopback):
    monkeypatch.setattr(socket, "getaddrinfo", fake_resolver(addresses))
    assert is_loopback("some.name.example") is loopback


def test_loopback_serves_as_before_without_password_or_library():
    rules = check_serving("127.0.0.1", None, [])
    assert rules.loopback and not rules.restricted and rules.auth() is None and rules.libraries == ()


def test_beyond_loopback_without_password_or_library_is_refused_saying_what_to_pass():
    with pytest.raises(ServingError) as refused:
        check_serving("0.0.0.0", None, [])
    text = str(refused.value)
    assert "not started" in text and "0.0.0.0 is not a loopback address" in text
    assert "$VOCALSEARCH_PASSWORD" in text and "--password-file FILE" in text and "`ps`" in text
    assert "--library DIR" in text and "127.0.0.1" in text


def test_beyond_loopback_with_a_password_still_needs_a_library():
    with pytest.raises(ServingError) as refused:
        check_serving("::", PASSWORD, [])
    problems = str(refused.value).split("visitors may read:", 1)[1]
    assert "--library DIR" in problems and "password" not in problems


def test_beyond_loopback_with_a_library_still_needs_a_password(tmp_path):
    with pytest.raises(ServingError) as refused:
        check_serving("192.0.2.2", None, [tmp_path])
    assert "VOCALSEARCH_PASSWORD" in str(refused.value) and "--library DIR" not in str(refused.value)


def test_a_short_password_is_refused(tmp_path):
    with pytest.raises(ServingError, match="at least 8 characters .the one given has 5"):
        check_serving("0.0.0.0", "hunt2", [tmp_path])


def test_a_library_that_is_not_a_folder_is_refused(tmp_path):
    (tmp_path / "file.wav").write_bytes(b"RIFF")
    for host in ("127.0.0.1", "0.0.0.0"):
        with pytest.raises(ServingError) as refused:
            check_serving(host, PASSWORD, [tmp_path / "missing", tmp_path / "file.wav"])
        assert "missing: no such folder" in str(refused.value) and "file.wav: not a folder" in str(refused.value)


def test_beyond_loopback_with_password_and_libraries_restricts_to_them(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    rules = check_serving("0.0.0.0", PASSWORD, [tmp_path / "a" / ".." / "a", tmp_path / "b", tmp_path / "a"], "alice")
    assert rules.restricted and rules.libraries == ((tmp_path / "a").resolve(), (tmp_path / "b").resolve())
    assert rules.auth() == [("alice", PASSWORD)]
    assert PASSWORD not in repr(rules)


def test_the_password_comes_from_the_environment_or_a_file(tmp_path):
    assert read_password(None, {}) is None
    assert read_password(None, {"VOCALSEARCH_PASSWORD": PASSWORD}) == PASSWORD
    secret = tmp_path / "secret"
    secret.write_text(PASSWORD + "\n")
    assert read_password(secret, {"VOCALSEARCH_PASSWORD": "the variable"}) == PASSWORD  # the file wins
    secret.write_text("\n\n")
    with pytest.raises(ServingError, match="is empty"):
        read_password(secret, {})
    with pytest.raises(ServingError, match="cannot read the password file"):
        read_password(tmp_path / "missing", {})


def test_the_command_line_refuses_before_loading_anything(capsys, monkeypatch):
    from vocalsearch_tf.search import cli

    monkeypatch.delenv("VOCALSEARCH_PASSWORD", raising=False)
    assert cli.main(["app", "--host", "0.0.0.0"]) == 2
    assert "--password-file FILE" in capsys.readouterr().err
    help_text = cli.build_parser()._subparsers._group_actions[0].choices["app"].format_help()
    assert "--password-file" in help_text and "VOCALSEARCH_PASSWORD" in help_text and "0.0.0.0" in help_text


@pytest.fixture
def tree(tmp_path):
    """library/ (a sound, a folder, links inside that stay inside, links that lead out) and
    private/ beside it."""
    library, private = tmp_path / "library", tmp_path / "private"
    (library / "birds").mkdir(parents=True)
    (library / "birds" / "crow.wav").write_bytes(b"RIFF")
    private.mkdir()
    (private / "secret.wav").write_bytes(b"RIFF")
    (tmp_path / "library2").mkdir()  # a sibling whose name starts with the library's
    (library / "to birds").symlink_to(library / "birds")
    (library / "crow link.wav").symlink_to(library / "birds" / "crow.wav")
    (library / "to private").symlink_to(private)
    (library / "secret link.wav").symlink_to(private / "secret.wav")
    return library, private


def test_a_file_and_folders_inside_are_allowed(tree):
    library, _ = tree
    for path in (library, library / "birds", library / "birds" / "crow.wav", library / "birds" / ".." / "birds",
                 f"{library}/", library / "not yet there"):
        assert inside_allowed(path, [library]), path


def test_links_inside_that_stay_inside_are_allowed(tree):
    library, _ = tree
    assert inside_allowed(library / "to birds", [library])
    assert inside_allowed(library / "to birds" / "crow.wav", [library])
    assert inside_allowed(library / "crow link.wav", [library])


@pytest.mark.parametrize("name", ["..", "../private", "../private/secret.wav", "birds/../../private",
                                  "to private", "to private/secret.wav", "secret link.wav", "../library2"])
def test_escapes_and_links_that_lead_out_are_refused(tree, name):
    library, _ = tree
    assert not inside_allowed(library / name, [library])
    with pytest.raises(OutsideLibrariesError) as refused:
        require_inside(library / name, [library])
    text = str(refused.value)
    assert str(library / name) in text and "outside the library folders" in text and str(library) in text
    assert "private" not in text.replace(str(library / name), "")  # where a link leads is not told


def test_absolute_paths_outside_are_refused(tree):
    library, private = tree
    for path in ("/", "/etc", "/etc/passwd", private, private / "secret.wav", os.path.expanduser("~")):
        assert not inside_allowed(path, [library]), path
    assert inside_allowed(private / "secret.wav", [library, private])  # several libraries


def test_a_link_loop_is_refused(tmp_path):
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    assert not inside_allowed(tmp_path / "loop" / "x", [tmp_path / "elsewhere"])


def test_linked_files_that_lead_out_are_listed(tree):
    library, _ = tree
    files = ["birds/crow.wav", "crow link.wav", "secret link.wav"]
    assert links_leading_out(library, files, [library]) == ["secret link.wav"]


@pytest.fixture
def page(tree, tmp_path, monkeypatch):
    """A restricted SearchPage (no server) whose index and model loading fail loudly, to
    show that a refused path is never read."""
    pytest.importorskip("gradio", reason="the page needs the `app` extra")
    from vocalsearch_tf.search import app

    def never(*args, **kwargs):
        raise AssertionError("a refused path was read")

    monkeypatch.setattr(app, "LibraryIndex", never)
    monkeypatch.setattr(app, "resolve", never)
    library, _ = tree
    (tmp_path / "uploads").mkdir()
    (tmp_path / "uploads" / "me.wav").write_bytes(b"RIFF")
    p = app.SearchPage(tmp_path / "index", None, check_serving("0.0.0.0", PASSWORD, [library]), tmp_path / "uploads")
    yield p
    p.cleanup()


@pytest.mark.parametrize("name", ["..", "../private", "to private", "birds/../../private"])
def test_the_page_refuses_folders_outside_before_reading_them(page, tree, tmp_path, name):
    library, _ = tree
    folder = str(library / name)
    for text in (page.index(folder, "default"), page.search(str(tmp_path / "uploads" / "me.wav"), folder, "default")[0]):
        assert text.startswith("⚠️") and "outside the library folders" in text


def test_the_page_refuses_an_imitation_not_uploaded_on_it_and_a_model_path(page, tree, tmp_path):
    library, private = tree
    text, shown = page.search(str(private / "secret.wav"), str(library), "default")
    assert "recorded or uploaded on this page" in text and shown.titles == []
    text, _ = page.search(str(tmp_path / "uploads" / "me.wav"), str(library), str(private / "model.keras"))
    assert "only the models in its list" in text


def test_the_page_refuses_to_index_a_folder_with_links_leading_out(page, tree, monkeypatch):
    library, _ = tree
    from vocalsearch_tf.search import app

    monkeypatch.setattr(app, "LibraryIndex", lambda folder, root: None)  # the folder check passes; nothing indexed
    text = page.index(str(library), "default")
    assert "1 file(s) are symbolic links that lead outside" in text and "secret link.wav" in text


def test_the_page_does_not_play_a_hit_that_leads_outside(page, tree, monkeypatch):
    """An index built on the server (`vocalsearch index`) may hold a linked file that leads
    out: the page lists it but neither reads nor plays it."""
    from vocalsearch_tf.search import app, engine

    library, _ = tree
    read = []
    monkeypatch.setattr(engine, "excerpt", lambda path, start: read.append(path) or ([0.0] * 800, 8_000))
    monkeypatch.setattr(app, "spectrogram_picture", lambda samples, rate: None)
    monkeypatch.setattr(app, "data_uri", lambda picture: "data:,")
    hits = [engine.Hit(1, 0.9, str(library / "secret link.wav"), "secret link.wav", 1.0, 0.0),
            engine.Hit(2, 0.8, str(library / "crow link.wav"), "crow link.wav", 1.0, 0.0)]
    shown = page._shown(hits)
    assert read == [str(library / "crow link.wav")]
    assert shown.excerpts[0] == "" and "leads outside the library folders" in shown.titles[0]
    assert shown.excerpts[1].endswith("02.wav") and "outside" not in shown.titles[1]
