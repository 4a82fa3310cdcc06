"""The search page served beyond this computer, in a real browser (headless Chromium, as
in test_search_app.py): served on 0.0.0.0 with a password and one allowed library, and
reached through this machine's own non-loopback address, as another computer would.

A visitor without the password gets the login page and nothing else (the API and the file
route answer 401 to a plain HTTP request); with it, a visitor indexes and searches the
allowed library and plays excerpts; a folder typed outside it (`..`, a symbolic link that
leads out, an absolute path) is refused on the page.
"""

import http.cookiejar
import io
import ipaddress
import json
import secrets
import shutil
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest
import soundfile as sf

from tests.test_search_app import REPO, Page, browser_paths, free_port, unavailable

LIBRARY_SOUNDS = 8


def own_address() -> str | None:
    """An IPv4 address of this machine that is not loopback (`hostname -I` first)."""
    try:
        listed = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=10).stdout.split()
    except (OSError, subprocess.SubprocessError):
        listed = []
    try:
        listed += [info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)]
    except OSError:
        pass
    for text in listed:
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address.version == 4 and not (address.is_loopback or address.is_link_local or address.is_unspecified):
            return text
    return None


def opener(cookies: http.cookiejar.CookieJar | None = None) -> urllib.request.OpenerDirector:
    """urllib without any proxy from the environment, keeping cookies when given."""
    handlers = [urllib.request.ProxyHandler({})]
    if cookies is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(cookies))
    return urllib.request.build_opener(*handlers)


def status_of(client, url: str, data: bytes | None = None) -> int:
    try:
        with client.open(url, data=data, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """A library of a few embedded sounds (a folder inside, a link inside that stays inside,
    a link that leads out to a private folder), the page served on 0.0.0.0 with a password,
    and a headless Chromium."""
    address = own_address()
    if address is None:
        pytest.skip("this machine has no non-loopback IPv4 address (hostname -I is empty): "
                    "the page cannot be reached as another computer would reach it")
    chromium, driver_path = browser_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
        from vocalsearch_tf.search import app
    except ImportError as error:
        unavailable(f"{error.name} is not installed")
    from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch
    from vocalsearch_tf.training.runs import vocalsketch_root

    tmp = tmp_path_factory.mktemp("served")
    data = load_vocalsketch(vocalsketch_root("synthetic", REPO / "data", "ci", 0))
    sounds = sorted((data.root / "sound_recordings").rglob("*.wav"))
    library, private = tmp / "Served Sounds", tmp / "private"
    (library / "inner").mkdir(parents=True)
    private.mkdir()
    for k, sound in enumerate(sounds[:LIBRARY_SOUNDS]):
        shutil.copy(sound, library / ("inner" if k < 2 else ".") / sound.name)
    shutil.copy(sounds[LIBRARY_SOUNDS], private / "secret.wav")
    (library / "to inner").symlink_to(library / "inner")
    (library / "to private").symlink_to(private)

    password = secrets.token_urlsafe(12)
    port = free_port()
    demo, page = app.serve(str(library), host="0.0.0.0", port=port, index_root=tmp / "index", block=False,
                           password=password)
    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1300,1200",
                     "--no-proxy-server"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})  # Page.settle reads it
    browser = webdriver.Chrome(options=options, service=Service(driver_path))
    browser.implicitly_wait(0)
    yield {"browser": browser, "url": f"http://{address}:{port}/", "library": library, "private": private,
           "data": data, "password": password, "page": page, "requests": []}
    browser.quit()
    demo.close()
    page.cleanup()


@pytest.fixture(scope="module")
def visitor(served):
    return Page(served)


def login_form_shown(visitor) -> bool:
    return bool(visitor.shown("input[type=password]")) and not visitor.shown("#vs-imitation")


def log_in(visitor, user: str, password: str):
    visitor.type_into("input[data-testid=textbox]", user)
    visitor.type_into("input[type=password]", password)
    next(b for b in visitor.shown("button") if b.text.strip() == "Login").click()


@pytest.fixture(scope="module")
def signed_in(visitor, served):
    """The visitor logged in with the password, on the search page."""
    visitor.d.get(served["url"])
    visitor.wait.until(lambda d: login_form_shown(visitor))
    log_in(visitor, "vocalsearch", served["password"])
    visitor.wait.until(lambda d: visitor.shown("#vs-imitation button[aria-label='Upload file']"))
    return visitor


def test_without_the_password_a_visitor_gets_only_the_login_page(visitor, served):
    visitor.d.delete_all_cookies()
    visitor.d.get(served["url"])
    visitor.wait.until(lambda d: login_form_shown(visitor))
    log_in(visitor, "vocalsearch", "not the password")
    visitor.wait.until(lambda d: "incorrect credentials" in d.find_element(visitor.By.TAG_NAME, "body").text.lower())
    body = visitor.d.page_source
    assert login_form_shown(visitor) and "served beyond its computer" in body
    assert "vs-library" not in body and "Search your own sounds" not in body and str(served["library"]) not in body


def test_without_the_password_the_api_and_files_answer_401(served):
    url, client = served["url"], opener()
    excerpt = served["page"].scratch / "probe.wav"
    sf.write(excerpt, [0.0] * 800, 8_000)
    for path in ("config", "gradio_api/info", "gradio_api/openapi.json", f"gradio_api/file={excerpt}",
                 "gradio_api/file=/etc/passwd", "gradio_api/queue/data?session_hash=x"):
        assert status_of(client, url + path) == 401, path
    assert status_of(client, url + "gradio_api/queue/join", json.dumps({"fn_index": 0, "data": []}).encode()) == 401
    assert status_of(client, url + "gradio_api/upload", b"") == 401
    with client.open(url, timeout=30) as response:  # the login page: no component, no folder
        page = response.read().decode()
    assert "vs-library" not in page and "Library folder" not in page and str(served["library"]) not in page


def test_with_the_password_the_api_answers_and_serves_only_the_pages_files(served):
    cookies = http.cookiejar.CookieJar()
    client, url = opener(cookies), served["url"]
    form = urllib.parse.urlencode({"username": "vocalsearch", "password": served["password"]}).encode()
    assert status_of(client, url + "login", form) == 200
    assert status_of(client, url + "config") == 200
    assert status_of(client, url + f"gradio_api/file={served['page'].scratch / 'probe.wav'}") == 200
    for outside in ("/etc/passwd", sorted((served["library"] / "inner").iterdir())[0], served["private"] / "secret.wav"):
        assert status_of(client, url + "gradio_api/file=" + urllib.parse.quote(str(outside))) == 403, outside  # Gradio serves excerpts only


def test_with_the_password_a_visitor_indexes_and_searches_the_allowed_library(signed_in, served):
    visitor, library = signed_in, served["library"]
    assert str(library) in visitor.find("#vs-known").text  # the folders it may read
    assert visitor.find("#vs-library input, #vs-library textarea").get_attribute("value") == str(library)
    before = visitor.status()
    visitor.find("#vs-index").click()
    assert f"{LIBRARY_SOUNDS} sounds indexed" in visitor.settle("sounds indexed", before)
    visitor.upload(served["data"].imitations.path[0])
    assert f"of {LIBRARY_SOUNDS} sounds" in visitor.search("s imitation")
    assert len(visitor.hits()) == 5
    player = visitor.shown("#vs-results .vs-hit audio")[0].get_attribute("src")
    assert status_of(opener(), player) == 401  # an excerpt, too, needs the login
    cookie = "; ".join(f"{c['name']}={c['value']}" for c in visitor.d.get_cookies())
    with opener().open(urllib.request.Request(player, headers={"Cookie": cookie}), timeout=30) as response:
        samples, rate = sf.read(io.BytesIO(response.read()))
    assert 0 < len(samples) / rate <= 4.0 + 1e-3


def test_a_link_inside_that_stays_inside_is_allowed(signed_in, served):
    visitor = signed_in
    visitor.type_into("#vs-library input, #vs-library textarea", str(served["library"] / "to inner"))
    before = visitor.status()
    visitor.find("#vs-index").click()
    assert "2 sounds indexed" in visitor.settle("sounds indexed", before)


@pytest.mark.parametrize("typed", ["..", "../private", "to private", "inner/../../private", "/etc"])
def test_a_folder_outside_the_library_is_refused_on_the_page(signed_in, served, typed):
    visitor = signed_in
    folder = str(served["library"] / typed)  # an absolute path stays itself
    visitor.type_into("#vs-library input, #vs-library textarea", folder)
    before = visitor.status()
    visitor.find("#vs-index").click()
    text = visitor.settle("so it is not indexed", before)
    assert text.startswith("⚠️") and folder in text and str(served["private"]) not in text.replace(folder, "")
    assert visitor.search("so it is not searched").startswith("⚠️") and visitor.hits() == []
