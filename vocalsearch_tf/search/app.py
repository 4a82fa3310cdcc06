"""The search page: record or upload an imitation, pick a library folder and a model, get the
best-matching sounds with scores, small spectrograms and players; "show more" from 5 to 20.

    make app                      (or: vocalsearch app --library DIR, python -m vocalsearch_tf.search.app)

Served on 127.0.0.1 by Gradio (the `app` extra). It works offline: analytics and version
checks are off, the theme uses Gradio's bundled fonts, and nothing is fetched from a CDN.
The page reads the library folder and writes only to the index folder and a scratch folder
for the players' excerpts, never into the library. Beyond loopback it asks for a password
and reads only inside the --library folders (`serving.py` holds the rules).
"""

from __future__ import annotations

import argparse
import atexit
import base64
import html
import io
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import gradio as gr  # noqa: E402
import librosa  # noqa: E402
import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402

from vocalsearch_tf.search import engine  # noqa: E402
from vocalsearch_tf.search.config import SearchError, default_index_root  # noqa: E402
from vocalsearch_tf.search.index import LibraryIndex, known_libraries, last_library, scan  # noqa: E402
from vocalsearch_tf.search.models import BUILT_IN, SYNTHETIC_NOTE, available_models, card, default_name, measurement_note, resolve  # noqa: E402
from vocalsearch_tf.search.serving import (  # noqa: E402
    APP_DESCRIPTION, DEFAULT_USER, OutsideLibrariesError, Serving, ServingError, add_serving_arguments, check_serving,
    inside_allowed, links_leading_out, require_inside, serving_options)
from vocalsearch_tf.signal.audio import AudioError  # noqa: E402

SLOTS = 20  # results kept per search; the page shows them 5 at a time
STEP = 5
KEEP_SEARCHES = 20  # searches whose excerpts stay playable (other tabs may still show them)
CSS = """
#vs-status { min-height: 2em; }
.vs-results { display: grid; grid-template-columns: repeat(auto-fill, minmax(360px, 1fr)); gap: 12px; }
.vs-hit { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: 8px; }
.vs-hit-title { margin-bottom: 6px; overflow-wrap: anywhere; }
.vs-hit img { width: 100%; height: 72px; image-rendering: pixelated; border-radius: 4px; display: block; }
.vs-hit audio { width: 100%; margin-top: 6px; }
"""
AUTH_MESSAGE = ("This search page is served beyond its computer: give the user name and password "
                "that the person serving it gave you.")


@dataclass
class Shown:
    """A search's results as the page shows them: a title, a picture (data URI) and an
    excerpt to play (a file in the page's scratch folder) per sound."""

    titles: list[str]
    pictures: list[str]
    excerpts: list[str]


def spectrogram_picture(samples: np.ndarray, rate: int, height: int = 64) -> np.ndarray:
    """A small RGB log-mel picture (low frequencies at the bottom) of an excerpt."""
    import matplotlib

    mel = librosa.feature.melspectrogram(y=samples, sr=rate, n_fft=1024, hop_length=256, n_mels=height)
    db = librosa.power_to_db(mel + 1e-10, ref=np.max(mel) + 1e-10, top_db=80.0)
    scaled = (db - db.min()) / (db.max() - db.min() + 1e-9)
    return (matplotlib.colormaps["magma"](scaled[::-1])[..., :3] * 255).astype(np.uint8)


def data_uri(picture: np.ndarray) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(picture).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def results_html(shown: Shown, count: int) -> str:
    """The first `count` results as cards. Plain <audio> players: light enough for 20."""
    cards = []
    for title, picture, excerpt in list(zip(shown.titles, shown.pictures, shown.excerpts))[:count]:
        player = (f'<audio controls preload="none" src="/gradio_api/file={html.escape(excerpt)}"></audio>'
                  if excerpt else "<em>(the file could not be read)</em>")
        image = f'<img alt="spectrogram" src="{picture}">' if picture else ""
        cards.append(f'<div class="vs-hit"><div class="vs-hit-title">{title}</div>{image}{player}</div>')
    return f'<div class="vs-results">{"".join(cards)}</div>' if cards else ""


class SearchPage:
    """The page's actions as plain methods (they return what the page shows), so the
    browser test and the unit tests exercise the same code.

    With `rules.restricted` (served beyond loopback) every folder, file and model a visitor
    names is checked before anything is read: folders and played files inside the allowed
    libraries, the imitation inside `uploads` (Gradio's upload folder), models by name."""

    def __init__(self, index_root: str | Path | None = None, results_dir: str | Path | None = None,
                 rules: Serving | None = None, uploads: str | Path | None = None):
        self.index_root = Path(index_root or default_index_root()).expanduser()
        self.results_dir = Path(results_dir) if results_dir else None
        self.rules = rules or Serving("127.0.0.1", loopback=True)
        self.uploads = Path(uploads) if uploads else None
        self.scratch = Path(tempfile.mkdtemp(prefix="vocalsearch-page-"))
        self.cleanups: list[Callable[[], None]] = []

    def check_folder(self, folder: str, done: str) -> None:
        if self.rules.restricted:
            require_inside(folder, self.rules.libraries, done)

    def check_imitation(self, imitation: str) -> None:
        if self.rules.restricted and not (self.uploads and inside_allowed(imitation, [self.uploads])):
            raise OutsideLibrariesError("the imitation must be recorded or uploaded on this page")

    def check_model(self, model: str) -> None:
        """Beyond loopback a model is one of the listed names (or a fusion of them): a file
        path typed into the box is not loaded."""
        names = {entry.name for entry in available_models(self.results_dir)}
        if self.rules.restricted and not set(model.split("+")) <= names:
            raise OutsideLibrariesError(f"model {model!r}: this page uses only the models in its list "
                                        "(a model file is not loaded from a path typed here)")

    def check_files(self, folder: str) -> None:
        """Refuses a folder holding audio files that are symbolic links leading out of the
        libraries (os.walk does not enter linked folders; linked files it lists)."""
        if not self.rules.restricted:
            return
        out = links_leading_out(folder, [f.rel for f in scan(Path(folder).resolve(), self.index_root)],
                                self.rules.libraries)
        if out:
            shown = ", ".join(out[:5]) + (f" and {len(out) - 5} more" if len(out) > 5 else "")
            raise OutsideLibrariesError(f"{folder}: {len(out)} file(s) are symbolic links that lead outside the "
                                        f"library folders this page may read ({shown}); this page does not "
                                        "index them. Remove the links, or index on the server with `vocalsearch index`.")

    def model_choices(self) -> list[tuple[str, str]]:
        return [(f"{e.name} — {e.description}" + (" (synthetic data)" if e.synthetic else ""), e.name)
                for e in available_models(self.results_dir)]

    def model_note(self, model: str) -> str:
        entry = {e.name: e for e in available_models(self.results_dir)}.get(model)
        if entry is None:
            return f"**Model:** the file `{model}` (loaded when you search or index)."
        text = f"**Model:** {entry.description}."
        built_in = default_name() if entry.name == "default" else entry.name
        if built_in in BUILT_IN:
            text += f" Trained on {card(built_in)['trained_on']}. {measurement_note(built_in)}."
        return text + (f" **Note: {SYNTHETIC_NOTE}.**" if entry.synthetic else "")

    def index(self, library: str, model: str, progress=None) -> str:
        if not library:
            return "⚠️ Type the path of your library folder first."
        try:
            self.check_folder(library, "indexed")
            self.check_model(model or "default")
            target = LibraryIndex(library, self.index_root)
            self.check_files(library)
            scorer = resolve(model or "default", self.results_dir, self.index_root, log=lambda m: None)
            report = target.update(scorer, progress=(lambda done, total, name: progress((done, total), desc=name))
                                   if progress else None)
        except (SearchError, AudioError) as error:
            return f"⚠️ {error}"
        lines = str(report).splitlines()
        return f"✅ {lines[0]}\n\n```\n" + "\n".join(lines[1:]) + "\n```"

    def search(self, imitation: str | None, library: str, model: str) -> tuple[str, Shown]:
        empty = Shown([], [], [])
        if not imitation:
            return "⚠️ Record an imitation with the microphone, or upload one, first.", empty
        if not library:
            return "⚠️ Type the path of your library folder first.", empty
        try:
            self.check_imitation(imitation)
            self.check_folder(library, "searched")
            self.check_model(model or "default")
            target = LibraryIndex(library, self.index_root)
            scorer = resolve(model or "default", self.results_dir, self.index_root, log=lambda m: None)
            result = engine.search(imitation, target, scorer, top=SLOTS)
        except SearchError as error:
            text = str(error)
            if "\n  vocalsearch index" in text:
                first, command = text.split("\n", 1)
                text = f"{first} Press **Index folder** to index it here (or run `{command.strip()}`)."
            return f"⚠️ {text}", empty
        except AudioError as error:
            return f"⚠️ {error}", empty
        shown = self._shown(result.hits)
        note = f" — {SYNTHETIC_NOTE}" if result.synthetic else ""
        status = (f"Top {len(result.hits)} of {result.sounds} sounds in `{result.library}` for your "
                  f"{result.query_seconds:.1f} s imitation (searched in {result.seconds * 1000:.0f} ms). "
                  f"Model **{result.model}**{note}.")
        return status, shown

    def _shown(self, hits) -> Shown:
        shown = Shown([], [], [])
        session = self._new_session()
        for hit in hits:
            at = f", best at {hit.window_start:.1f} s" if hit.duration > 4.0 else ""
            allowed = not self.rules.restricted or inside_allowed(hit.path, self.rules.libraries)
            refused = "" if allowed else " — <em>not played: it leads outside the library folders</em>"
            shown.titles.append(f"<b>{hit.rank}.</b> <code>{html.escape(hit.file)}</code> — score {hit.score:.4g} "
                                f"— {hit.duration:.1f} s{at}{refused}")
            picture, clip = self._excerpt(hit, session) if allowed else ("", "")
            shown.pictures.append(picture)
            shown.excerpts.append(clip)
        return shown

    @staticmethod
    def _excerpt(hit, session: Path) -> tuple[str, str]:
        """The hit's picture and excerpt file; empty when the file changed since indexing."""
        try:
            samples, rate = engine.excerpt(hit.path, hit.window_start)
            clip = session / f"{hit.rank:02d}.wav"
            sf.write(clip, samples, rate)
            return data_uri(spectrogram_picture(samples, rate)), str(clip)
        except (OSError, RuntimeError, sf.LibsndfileError):
            return "", ""

    def _new_session(self, keep: int = KEEP_SEARCHES) -> Path:
        """A scratch folder for one search's excerpts; the oldest beyond `keep` go."""
        session = Path(tempfile.mkdtemp(dir=self.scratch))
        for old in sorted(self.scratch.iterdir(), key=lambda p: p.stat().st_mtime_ns)[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
        return session

    def cleanup(self) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)
        while self.cleanups:
            self.cleanups.pop()()


def library_field(page: SearchPage, library: str | None) -> tuple[str, str, str]:
    """The library box's first value and label, and the note under it. Beyond loopback the
    note lists the folders the page may read, and no indexed folder outside them."""
    if page.rules.restricted:
        allowed = [str(p) for p in page.rules.libraries]
        return (library or allowed[0], "Library folder (on the server: one of these, or a folder inside one)",
                "Folders this page may read: " + ", ".join(f"`{a}`" for a in allowed))
    known = [str(p) for p in known_libraries(page.index_root)]
    start = library or (str(last_library(page.index_root) or "") if known else "")
    return start, "Library folder (on this computer)", ("Indexed folders: " + ", ".join(f"`{k}`" for k in known)
                                                        if known else "")


def build(page: SearchPage, library: str | None = None) -> gr.Blocks:
    start_library, library_label, library_note = library_field(page, library)
    with gr.Blocks(title="vocalsearch — search your sounds by vocal imitation", analytics_enabled=False) as demo:
        gr.Markdown("# Search your own sounds by vocal imitation\n"
                    "Imitate a sound with your voice — hum, whistle, *vroom* — and find it in your library. "
                    "Record (or upload), listen back, record again if you like, then **Search**.")
        with gr.Row():
            with gr.Column(scale=3):
                imitation = gr.Audio(sources=["microphone", "upload"], type="filepath", label="Your imitation",
                                     elem_id="vs-imitation")
            with gr.Column(scale=2):
                library_box = gr.Textbox(label=library_label, value=start_library,
                                         placeholder="/home/me/Sounds", elem_id="vs-library")
                if library_note:
                    gr.Markdown(library_note, elem_id="vs-known")
                model = gr.Dropdown(page.model_choices(), value="default", label="Model",
                                    allow_custom_value=not page.rules.restricted, elem_id="vs-model")
                model_note = gr.Markdown(page.model_note("default"), elem_id="vs-model-note")
                with gr.Row():
                    search_button = gr.Button("Search", variant="primary", elem_id="vs-search")
                    index_button = gr.Button("Index folder", elem_id="vs-index")
        status = gr.Markdown("", elem_id="vs-status")
        hits = gr.State(Shown([], [], []))
        count = gr.State(0)
        results = gr.HTML("", elem_id="vs-results")
        more = gr.Button("Show more", visible=False, elem_id="vs-more")

        def render(shown: Shown, n: int):
            return [gr.Button(visible=len(shown.titles) > n), results_html(shown, n)]

        outputs = [more, results]

        def on_search(recording, folder, name):
            message, shown = page.search(recording, (folder or "").strip(), name)
            n = min(STEP, len(shown.titles))
            return [message, shown, n] + render(shown, n)

        def on_more(shown, n):
            n = min(n + STEP, len(shown.titles), SLOTS)
            return [n] + render(shown, n)

        def on_index(folder, name, progress=gr.Progress()):
            return page.index((folder or "").strip(), name, progress)

        # Gradio writes the public endpoints' descriptions (labels, the library box's value)
        # into the HTML of its login page: beyond loopback they are private.
        api = {"api_visibility": "private" if page.rules.restricted else "public"}
        search_button.click(on_search, [imitation, library_box, model], [status, hits, count] + outputs, **api)
        more.click(on_more, [hits, count], [count] + outputs, **api)
        index_button.click(on_index, [library_box, model], [status], **api)
        model.change(page.model_note, [model], [model_note], **api)
    return demo


def private_gradio_folders() -> tuple[Path, Callable[[], None]]:
    """Beyond loopback: a folder of this page alone for Gradio's uploads and cache, so the
    files Gradio serves are this page's (its default, /tmp/gradio, is shared by every
    Gradio app on the machine, and ./.gradio/cached_examples would be served from the
    working folder). Returns the folder and a function that puts things back."""
    before = {name: os.environ.get(name) for name in ("GRADIO_TEMP_DIR", "GRADIO_EXAMPLES_CACHE")}
    uploads = Path(tempfile.mkdtemp(prefix="vocalsearch-uploads-")).resolve()
    os.environ.update({"GRADIO_TEMP_DIR": str(uploads), "GRADIO_EXAMPLES_CACHE": str(uploads / "examples")})

    def restore():
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        shutil.rmtree(uploads, ignore_errors=True)

    return uploads, restore


def serve(library: str | Path | Sequence[str | Path] | None = None, host: str = "127.0.0.1", port: int = 7860,
          index_root: str | Path | None = None, results_dir: str | Path | None = None,
          block: bool = True, password: str | None = None, user: str = DEFAULT_USER):
    """Serves the page; `library` is one folder or several (the first shown first). Beyond
    loopback `password` and `library` are required (ServingError otherwise) and visitors
    read only inside those folders."""
    libraries = [library] if isinstance(library, (str, Path)) else list(library or [])
    rules = check_serving(host, password, libraries, user)
    uploads, restore = private_gradio_folders() if rules.restricted else (None, None)
    page = SearchPage(index_root, results_dir, rules, uploads)
    if restore:
        page.cleanups.append(restore)
    atexit.register(page.cleanup)
    demo = build(page, str(libraries[0]) if libraries else None)
    demo.queue(default_concurrency_limit=1)  # one search or indexing run at a time: 2 cores
    demo.launch(server_name=host, server_port=port, ssr_mode=False, show_error=True, quiet=False,
                css=CSS, footer_links=[], prevent_thread_lock=not block,
                allowed_paths=[str(page.scratch)],  # the players' excerpts, and nothing else
                auth=rules.auth(), auth_message=AUTH_MESSAGE if rules.password else None,
                run_history=False if rules.restricted else None)
    return demo, page


def main(argv=None) -> int:
    """`python -m vocalsearch_tf.search.app ...`: the flags of `vocalsearch app`."""
    parser = argparse.ArgumentParser(prog="python -m vocalsearch_tf.search.app", description=APP_DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_serving_arguments(parser)
    parser.add_argument("--index-dir", default=None)
    parser.add_argument("--results-dir", default="results")
    args = parser.parse_args(argv)
    try:
        options = serving_options(args)
    except ServingError as error:
        print(error, file=sys.stderr)
        return 2
    results = Path(args.results_dir) if Path(args.results_dir).is_dir() else None
    serve(**options, index_root=args.index_dir, results_dir=results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
