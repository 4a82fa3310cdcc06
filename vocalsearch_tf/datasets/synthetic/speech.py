"""A 7-language speech set in VoxForge's layout, spoken by eSpeak NG.

    <dest>/<lang>/<user>-<yyyymmdd>-<tag>/wav/<lang><nnnn>.wav   16 kHz mono 16-bit
    <dest>/<lang>/<user>-<yyyymmdd>-<tag>/etc/README             speaker and recording info
    <dest>/<lang>/<user>-<yyyymmdd>-<tag>/etc/PROMPTS            "<session>/mfc/<file> TEXT"

Each session is one "speaker": an eSpeak NG voice variant with its own rate, pitch and
pitch range, reading sentences from Faker's locale for the language, recorded through
a random microphone band with a little room noise. eSpeak NG (GPL-3.0-or-later) comes
with its voices inside the `espeakng-loader` wheel and is called through ctypes.
"""

from __future__ import annotations

import ctypes
import functools
import os
import shutil
from pathlib import Path

import numpy as np

from vocalsearch_tf.datasets.synthetic import dsp
from vocalsearch_tf.datasets.synthetic.common import parallel_map, rng_for, write_wav

RATE = 16_000
# VoxForge language folder -> (eSpeak NG voice, Faker locale, README language name)
LANGUAGES = {
    "nl": ("nl", "nl_NL", "Dutch"),
    "en": ("en-us", "en_US", "English"),
    "fr": ("fr", "fr_FR", "French"),
    "de": ("de", "de_DE", "German"),
    "it": ("it", "it_IT", "Italian"),
    "ru": ("ru", "ru_RU", "Russian"),
    "es": ("es", "es_ES", "Spanish"),
}
VARIANTS = {"male": ["m1", "m2", "m3", "m4", "m5", "m6", "m7", "max", "edward", "iven", "john", "norbert"],
            "female": ["f1", "f2", "f3", "f4", "f5", "anika", "belinda", "linda", "Annie", "Andrea"]}
USERS = ["anonymous", "ralfherzog", "kmaclean", "nsh", "dcoetzee", "rms", "gerwin", "jmk", "lisa", "marco"]
MAX_SECONDS = 7.0  # sentences run 2-7 s; the loader cuts or pads them to 4 s
_AUDIO_OUTPUT_SYNCHRONOUS, _POS_CHARACTER, _CHARS_UTF8 = 2, 1, 1
_RATE, _PITCH, _RANGE = 1, 3, 4


class ESpeak:
    """Minimal ctypes binding of libespeak-ng: text in, 22.05 kHz int16 samples out."""

    def __init__(self):
        import espeakng_loader

        self.lib = ctypes.CDLL(espeakng_loader.get_library_path())
        data_parent = str(Path(espeakng_loader.get_data_path()).parent).encode()
        self.rate = self.lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_parent, 0)
        if self.rate <= 0:
            raise RuntimeError(f"eSpeak NG failed to initialise (data in {data_parent.decode()})")
        self._chunks: list[np.ndarray] = []
        callback_type = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)
        self._callback = callback_type(self._collect)  # keep a reference: C holds the pointer
        self.lib.espeak_SetSynthCallback(self._callback)

    def _collect(self, wav, count, events):
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(count,)).copy())
        return 0

    def say(self, text: str, voice: str, rate: int, pitch: int, pitch_range: int, seed: int = 0) -> np.ndarray:
        """Speak `text`; `seed` fixes the noise of breathy (female) variants."""
        self.lib.espeak_ng_SetRandSeed(ctypes.c_long(seed))
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise RuntimeError(f"eSpeak NG has no voice {voice!r}")
        for parameter, value in ((_RATE, rate), (_PITCH, pitch), (_RANGE, pitch_range)):
            self.lib.espeak_SetParameter(parameter, int(value), 0)
        self._chunks = []
        data = text.encode("utf-8")
        self.lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        self.lib.espeak_Synchronize()
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        return samples.astype(np.float64) / 32768.0


@functools.lru_cache(maxsize=1)
def _espeak() -> ESpeak:
    return ESpeak()


def say_from_fresh_state(text: str, voice: str, rate: int, pitch: int, pitch_range: int, seed: int = 0) -> np.ndarray:
    """`ESpeak.say` in a forked child that initialises eSpeak NG itself (about 16 ms).

    eSpeak NG carries state from one utterance to the next that no API call resets, so the
    same call in one process gives other samples each time; a child that loads the library
    afresh repeats the first call exactly, whatever the parent said before (as long as the
    parent has not loaded the library itself: the child would inherit that state)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: one byte of status, then the samples or the error; no cleanup of the parent's
        try:
            os.close(read_end)
            with os.fdopen(write_end, "wb") as pipe:
                try:
                    message = b"\0" + ESpeak().say(text, voice, rate, pitch, pitch_range, seed).tobytes()
                except Exception as error:
                    message = b"\1" + f"{type(error).__name__}: {error}".encode()
                pipe.write(message)
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        message = pipe.read()
    os.waitpid(pid, 0)
    if message[:1] != b"\0":
        reason = message[1:].decode(errors="replace") or "it exited without an answer"
        raise RuntimeError(f"eSpeak NG could not say {text!r} with voice {voice!r}: {reason}")
    return np.frombuffer(message[1:], dtype=np.float64).copy()


@functools.lru_cache(maxsize=8)
def _faker(locale: str):
    from faker import Faker

    return Faker(locale)


def session_name(lang: str, index: int, seed: int) -> str:
    """`<user>-<yyyymmdd>-<tag>` as in VoxForge; a quarter of the users are 'anonymous'
    (as many real ones are), the others have a user name of their own."""
    rng = rng_for(seed, "session", lang, index)
    user = "anonymous" if rng.random() < 0.25 else f"{USERS[int(rng.integers(len(USERS)))]}{index}"
    date = f"20{int(rng.integers(7, 13)):02d}{int(rng.integers(1, 13)):02d}{int(rng.integers(1, 29)):02d}"
    tag = "".join("abcdefghijklmnopqrstuvwxyz"[(index // 26 ** k) % 26] for k in range(3))
    return f"{user}-{date}-{tag}"


def _readme(user: str, gender: str, language: str) -> str:
    return (f"User Name:{user}\n\nSpeaker Characteristics:\n\nGender: {gender.capitalize()}\n"
            f"Age Range: Adult\nLanguage: {language}\nPronunciation dialect: synthetic (eSpeak NG)\n\n"
            "Recording Information:\n\nMicrophone make: n/a\nMicrophone type: synthetic\n"
            "Audio Recording Software: vocalsearch_tf synthetic generator\n\n"
            "File Info:\n\nFile type: wav\nSampling Rate: 16000\nSample rate format: 16\n"
            "Number of channels: 1\n")


def _render_session(dest: Path, seed: int, lang: str, index: int) -> int:
    """One speaker's session folder; returns the number of clips written."""
    name = session_name(lang, index, seed)
    folder = dest / lang / name
    voice, locale, language = LANGUAGES[lang]
    rng = rng_for(seed, "speaker", lang, index)
    gender = "male" if rng.random() < 0.6 else "female"
    variant = VARIANTS[gender][int(rng.integers(len(VARIANTS[gender])))]
    rate, pitch, pitch_range = rng.integers(130, 200), rng.integers(25, 75), rng.integers(20, 80)
    band = (rng.uniform(60, 200), rng.uniform(4500, 7800))
    snr = rng.uniform(20, 45)
    faker = _faker(locale)
    faker.seed_instance(int(rng.integers(2**31)))
    clips = 1 + int(rng.random() < 0.2)
    prompts = []
    for k in range(clips):
        text = faker.sentence(nb_words=int(rng.integers(8, 14)))
        speech = _espeak().say(text, f"{voice}+{variant}", rate, pitch, pitch_range, seed=int(rng.integers(2**31)))
        speech = speech[: int(MAX_SECONDS * _espeak().rate)]
        speech = _resample(speech, _espeak().rate, RATE)
        speech = dsp.add_noise_at_snr(rng, speech, snr, dsp.pink_noise(rng, len(speech)))
        speech = dsp.bandpass(speech, RATE, *band, order=2)
        filename = f"{lang}{index * 10 + k:06d}"
        write_wav(folder / "wav" / f"{filename}.wav", dsp.normalize(speech, rng.uniform(0.3, 0.9)), RATE)
        prompts.append(f"{name}/mfc/{filename} {text.upper()}")
    (folder / "etc").mkdir(parents=True, exist_ok=True)
    (folder / "etc" / "README").write_text(_readme(name.split("-")[0], gender, language))
    (folder / "etc" / "PROMPTS").write_text("\n".join(prompts) + "\n")
    return clips


def _language_complete(folder: Path, speakers: int) -> bool:
    marker = folder / ".complete"
    return marker.exists() and marker.read_text().strip() == str(speakers)


def _render_language(job) -> int:
    """All sessions of one language, in order, in a fresh process.

    eSpeak NG keeps internal state from one utterance to the next that no API call
    resets (measured: the same call twice gives different samples), and draws breath
    noise from a seed (`espeak_ng_SetRandSeed`). A language is byte-reproducible when
    rendered whole, in order, from a fresh process, with a seed per utterance; an
    incomplete language is therefore rendered again from scratch.
    """
    dest, seed, lang, speakers = job
    if _language_complete(dest / lang, speakers):
        return 0
    marker = dest / lang / ".complete"
    if (dest / lang).exists():
        shutil.rmtree(dest / lang)
    clips = sum(_render_session(dest, seed, lang, index) for index in range(speakers))
    marker.write_text(f"{speakers}\n")
    return clips


def _resample(x: np.ndarray, rate: int, target: int) -> np.ndarray:
    import soxr

    return soxr.resample(x, rate, target, quality="HQ")


def write(dest: Path, seed: int, speakers_per_language: int, workers: int = 2) -> dict:
    """`speakers_per_language` sessions per language, each a distinct speaker."""
    dest = Path(dest)
    jobs = [(dest, seed, lang, speakers_per_language) for lang in LANGUAGES
            if not _language_complete(dest / lang, speakers_per_language)]
    written = parallel_map(_render_language, jobs, workers, "speech set (eSpeak NG)", fresh_processes=True)
    return {"languages": list(LANGUAGES), "speakers_per_language": speakers_per_language,
            "clips_written": int(sum(written))}
