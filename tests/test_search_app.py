"""The search page in a real browser: Debian's chromium and chromium-driver, headless, driven
by Selenium. Index a folder, upload an imitation, search, show more; record through the
microphone path with Chromium's fake capture device; every bad input gets its message;
the page fetches nothing from outside the machine; nothing is written into the library.

Without a browser the tests skip with a message, except under CI (CI=true), where a
missing browser is a failure: `.ci/run` installs it.
"""

import io
import json
import os
import shutil
import socket
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
SCREENSHOT = REPO / "figures" / "search_app.png"
IN_CI = os.environ.get("CI", "").lower() == "true"


def unavailable(what: str):
    message = f"{what}; on Debian: apt-get install -y chromium chromium-driver, and pip install selenium gradio"
    if IN_CI:
        pytest.fail(f"CI=true but {message}")
    pytest.skip(message)


def browser_paths() -> tuple[str, str]:
    chromium = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if chromium is None or driver is None:
        unavailable("no chromium / chromedriver on this machine")
    return chromium, driver


def snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The embedded sounds as a library, bad recordings, a results folder with another model,
    the page served in this process, and a headless Chromium whose fake microphone plays an
    imitation."""
    chromium, driver_path = browser_paths()
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed")
    try:
        from vocalsearch_tf.search import app
    except ImportError:
        unavailable("gradio (the `app` extra) is not installed")
    import keras

    from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch
    from vocalsearch_tf.models.iminet import build_iminet
    from vocalsearch_tf.training.runs import vocalsketch_root

    tmp = tmp_path_factory.mktemp("page")
    data = load_vocalsketch(vocalsketch_root("synthetic", REPO / "data", "ci", 0))
    library = tmp / "My Sounds"
    shutil.copytree(data.root / "sound_recordings", library)
    bad = {"empty": tmp / "empty.wav", "silent": tmp / "silent.wav", "long": tmp / "20 minutes.wav",
           "not audio": tmp / "photo.wav"}
    sf.write(bad["empty"], np.zeros(0, np.float32), 16_000)
    sf.write(bad["silent"], np.zeros(48_000, np.float32), 16_000)
    t = np.arange(20 * 60 * 8_000) / 8_000
    sf.write(bad["long"], (0.3 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 8_000)
    bad["not audio"].write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    (tmp / "documents").mkdir()
    (tmp / "documents" / "letter.txt").write_text("no sounds here")
    (tmp / "broken.keras").write_bytes(b"PK\x03\x04 not a keras archive")
    results = tmp / "results"
    untied = results / "quick" / "synthetic" / "seed0" / "iminet" / "untied"
    untied.mkdir(parents=True)
    keras.utils.set_random_seed(0)
    build_iminet("untied").save(untied / "model_00.keras")

    port = free_port()
    demo, page = app.serve(str(library), port=port, index_root=tmp / "index", results_dir=results, block=False)
    options = Options()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1300,1200",
                     "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                     f"--use-file-for-fake-audio-capture={data.imitations.path[0]}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    browser = webdriver.Chrome(options=options, service=Service(driver_path))
    browser.implicitly_wait(0)
    untouched = snapshot(library)
    yield {"browser": browser, "url": f"http://127.0.0.1:{port}/", "library": library, "data": data, "bad": bad,
           "tmp": tmp, "untouched": untouched, "requests": []}
    browser.quit()
    demo.close()
    page.cleanup()


class Page:
    """The few things a person does on the page, in Selenium terms."""

    def __init__(self, setup):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import WebDriverWait

        self.s, self.d, self.By = setup, setup["browser"], By
        self.wait = WebDriverWait(self.d, 60, poll_frequency=0.1)

    def find(self, css):
        return self.d.find_element(self.By.CSS_SELECTOR, css)

    def shown(self, css):
        return [e for e in self.d.find_elements(self.By.CSS_SELECTOR, css) if e.is_displayed()]

    def status(self) -> str:
        return self.find("#vs-status").text

    def settle(self, expected: str, before: str | None = None) -> str:
        """Waits until the status changed from `before` and holds `expected` (and no progress
        text); returns it."""
        self.wait.until(lambda d: self.status() != before and expected in self.status()
                        and "processing" not in self.status())
        self.drain()
        return self.status()

    def drain(self):
        for entry in self.d.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message["method"] == "Network.requestWillBeSent":
                self.s["requests"].append(message["params"]["request"]["url"])

    def type_into(self, css, text):
        from selenium.webdriver.common.keys import Keys

        box = self.find(css)
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.DELETE)
        box.send_keys(text)

    def pick_model(self, name, note):
        """Types a model name or path into the model box; waits for the note that describes it."""
        from selenium.webdriver.common.keys import Keys

        self.type_into("#vs-model input", name)
        self.find("#vs-model input").send_keys(Keys.ENTER)
        self.wait.until(lambda d: note in self.find("#vs-model-note").text)

    def has_imitation(self) -> bool:
        """A recording or upload is loaded (playable or not): the component offers its download."""
        return bool(self.shown("#vs-imitation button[aria-label=Download]"))

    def clear_imitation(self):
        if self.has_imitation():
            self.shown("#vs-imitation button[aria-label=Clear]")[0].click()
            self.wait.until(lambda d: not self.has_imitation())

    def upload(self, path):
        self.clear_imitation()
        self.find("#vs-imitation button[aria-label='Upload file']").click()
        self.wait.until(lambda d: d.find_elements(self.By.CSS_SELECTOR, "#vs-imitation input[type=file]"))
        self.find("#vs-imitation input[type=file]").send_keys(str(path))
        self.wait.until(lambda d: self.has_imitation())

    def record(self, seconds=2.0):
        self.clear_imitation()
        self.find("#vs-imitation button[aria-label='Record audio']").click()
        self.wait.until(lambda d: self.shown("#vs-imitation button.record-button"))
        start = time.perf_counter()
        self.find("#vs-imitation button.record-button").click()
        time.sleep(seconds)
        self.shown("#vs-imitation button.stop-button")[0].click()
        elapsed = time.perf_counter() - start  # under load the clicks take longer than `seconds`
        self.wait.until(lambda d: self.has_imitation())
        return elapsed

    def search(self, expected):
        before = self.status()
        self.find("#vs-search").click()
        return self.settle(expected, before)

    def hits(self) -> list[str]:
        return [e.text for e in self.shown("#vs-results .vs-hit-title")]


@pytest.fixture(scope="module")
def page(setup):
    p = Page(setup)
    p.d.get(setup["url"])
    p.wait.until(lambda d: p.shown("#vs-imitation button.record-button"))
    assert "trained on the embedded synthetic data" in p.find("#vs-model-note").text
    return p


def test_index_button_indexes_the_typed_folder(page, setup):
    page.type_into("#vs-library input, #vs-library textarea", str(setup["library"]))
    before = page.status()
    page.find("#vs-index").click()
    text = page.settle("sounds indexed", before)
    assert f"{len(setup['data'].sounds)} sounds indexed" in text and "with model default" in text


def test_upload_search_and_show_more(page, setup):
    from vocalsearch_tf.search import engine
    from vocalsearch_tf.search.index import LibraryIndex
    from vocalsearch_tf.search.models import resolve

    data = setup["data"]
    imitation = data.imitations.path[3]
    expected = engine.search(imitation, LibraryIndex(setup["library"], setup["tmp"] / "index"), resolve("default"), 20)
    page.upload(imitation)
    text = page.search("s imitation")
    assert f"Top 20 of {len(data.sounds)} sounds" in text and "trained on the embedded synthetic data" in text
    titles = page.hits()
    assert len(titles) == 5
    assert all(title.startswith(f"{k}.") and "score" in title for k, title in enumerate(titles, 1))
    assert [hit.file in title for hit, title in zip(expected.hits, titles)] == [True] * 5  # same order as the CLI
    assert len(page.shown("#vs-results .vs-hit img")) == 5
    players = page.shown("#vs-results .vs-hit audio")
    assert len(players) == 5
    with urllib.request.urlopen(players[0].get_attribute("src"), timeout=30) as response:  # the excerpt plays
        excerpt, rate = sf.read(io.BytesIO(response.read()))
    assert 0 < len(excerpt) / rate <= 4.0 + 1e-3
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.d.execute_script("window.scrollTo(0, 0)")
    page.d.save_screenshot(str(SCREENSHOT))
    for shown in (10, 15, 20):
        page.find("#vs-more").click()
        page.wait.until(lambda d: len(page.hits()) == shown)
    assert not page.shown("#vs-more")  # 20 is the most a search keeps
    assert all(hit.file in title for hit, title in zip(expected.hits, page.hits()))


def test_microphone_recording_searches(page, setup):
    held = page.record(2.0)
    text = page.search("s imitation")
    assert f"Top 20 of {len(setup['data'].sounds)} sounds" in text
    heard = float(text.split(" s imitation")[0].split()[-1])
    # what the fake microphone gave between the two clicks reached the server, silence trimmed:
    # at least half the 2 s asked for, at most the time the clicks really took (more under load)
    assert 1.0 <= heard <= held + 0.5, (heard, held)
    assert len(page.hits()) == 5


@pytest.mark.parametrize("kind, message", [
    ("not audio", "not an audio file"),
    ("empty", "the recording is empty"),
    ("silent", "the recording is silent"),
    ("long", "the recording is 20 min 0 s long"),
])
def test_bad_recordings_get_a_message_on_the_page(page, setup, kind, message):
    page.upload(setup["bad"][kind])
    text = page.search(message)
    assert text.startswith("⚠️") and setup["bad"][kind].name in text
    assert page.hits() == []


def test_a_folder_without_audio_gets_a_message_on_the_page(page, setup):
    page.type_into("#vs-library input, #vs-library textarea", str(setup["tmp"] / "documents"))
    before = page.status()
    page.find("#vs-index").click()
    assert str(setup["tmp"] / "documents") in page.settle("no audio files", before)
    page.type_into("#vs-library input, #vs-library textarea", str(setup["library"]))


def test_a_model_file_that_does_not_load_gets_a_message_on_the_page(page, setup):
    page.upload(setup["data"].imitations.path[0])
    page.pick_model(str(setup["tmp"] / "broken.keras"), "broken.keras")
    assert "broken.keras" in page.search("cannot load model")


def test_a_library_indexed_with_another_model_gets_a_message_on_the_page(page, setup):
    page.pick_model("quick/synthetic/seed0/iminet/untied/model_00", "IMINET untied")
    text = page.search("not with")
    from vocalsearch_tf.search.models import resolve

    indexed_with = ", ".join(sorted({c.name for c in resolve("default").components}))  # 'default', or a fusion's parts
    assert f"is indexed with model(s) {indexed_with}" in text and "Index folder" in text
    page.pick_model("default", "the default:")


def test_the_page_fetched_nothing_from_outside_and_wrote_nothing_into_the_library(page, setup):
    page.drain()
    hosts = {urlparse(url).netloc for url in setup["requests"] if urlparse(url).scheme in ("http", "https", "ws", "wss")}
    assert hosts == {urlparse(setup["url"]).netloc}, hosts
    assert snapshot(setup["library"]) == setup["untouched"]
    assert SCREENSHOT.is_file()
