"""The development check of transfer: packaged sounds, eSpeak NG imitations, the writer, evaluation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from vocalsearch_tf.datasets import debian, imitation_processes, imitators, packaged
from vocalsearch_tf.datasets.vocalsketch import load_vocalsketch
from vocalsearch_tf.evaluation import metrics
from vocalsearch_tf.experiments import transfer_check

RATE = imitators.RATE


def glide(seconds=2.0, start_hz=220.0, octaves=1.0, loud_then_soft=True):
    t = np.arange(int(seconds * RATE)) / RATE
    phase = 2 * np.pi * np.cumsum(start_hz * 2 ** (t / seconds * octaves)) / RATE
    envelope = np.where(t < seconds / 2, 1.0, 0.25) if loud_then_soft else np.ones_like(t)
    return 0.5 * envelope * (np.sin(phase) + 0.3 * np.sin(2 * phase))


@pytest.mark.parametrize("name", sorted(packaged.RESERVED_PACKAGES | packaged.TRAINING_PACKAGES))
def test_reserved_and_training_packages_are_refused(name, tmp_path):
    with pytest.raises(packaged.ReservedPackageError, match=name):
        packaged.fetch_packages(tmp_path, ["lmms-common", name])
    assert not (tmp_path / "debs").exists()  # refused before anything was fetched


def test_fetch_names_the_missing_tool(tmp_path, monkeypatch):
    monkeypatch.setattr(debian.shutil, "which", lambda tool: None)
    with pytest.raises(packaged.PackageToolError, match="apt-get not found"):
        packaged.fetch_packages(tmp_path, ["lmms-common"])


def test_unpacked_packages_are_reused_without_apt(tmp_path, monkeypatch):
    root = packaged.package_root(tmp_path, "pingus-data")
    root.mkdir(parents=True)
    (root / ".unpacked").write_text("pingus-data_0.7.6-5.1_all.deb\n")
    monkeypatch.setattr(debian.shutil, "which", lambda tool: None)
    assert packaged.fetch_packages(tmp_path, ["pingus-data"]) == {"pingus-data": root}
    assert packaged.package_version(tmp_path, "pingus-data").startswith("pingus-data_0.7.6")


def test_pool_and_prepare_on_fixture_files(tmp_path):
    folder = tmp_path / "pingus-data" / "usr/share/games/pingus/data/sounds"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for stem, rate, channels in (("splash", 11_000, 1), ("ohno", 11_000, 1), ("chink", 22_050, 2)):
        audio = rng.normal(0, 0.2, (int(rate * 5.0), channels)) * np.linspace(1, 0.1, int(rate * 5.0))[:, None]
        sf.write(folder / f"{stem}.wav", np.pad(audio, ((int(0.3 * rate), 0), (0, 0))), rate)
    pingus = next(p for p in packaged.POOLS["everyday sounds"] if p.package == "pingus-data")
    pool = packaged.pool_files({"pingus-data": tmp_path / "pingus-data"}, pingus)
    assert [s.label for s in pool] == ["chink", "splash"]  # sorted; speech ("ohno") left out
    samples, rate = packaged.audio.load(folder / "chink.wav")
    prepared = packaged.prepare(samples, rate)
    assert len(prepared) == int(packaged.MAX_SECONDS * packaged.RATE)  # clipped to 4 s at 44.1 kHz
    assert np.max(np.abs(prepared[:int(0.02 * packaged.RATE)])) > 0.05  # the leading 0.3 s of silence is gone
    assert np.max(np.abs(prepared)) == pytest.approx(0.9)


def test_writer_round_trips_through_the_vocalsketch_loader(tmp_path):
    rng = np.random.default_rng(1)
    t = np.arange(int(1.2 * packaged.RATE)) / packaged.RATE
    shapes = {
        "acoustic instruments": np.sin(2 * np.pi * 330 * t) * np.exp(-2 * t),
        "commercial synthesizers": np.sign(np.sin(2 * np.pi * 110 * t)) * 0.5,
        "everyday sounds": rng.normal(0, 0.3, len(t)) * np.exp(-4 * t),
        "single synthesizer": np.sin(2 * np.pi * (200 + 300 * t) * t),
    }
    sounds = [packaged.Sound(f"fixture {k}", c, "fixture", f"{k}.wav", part=packaged.PARTS[k % 2])
              for k, c in enumerate(packaged.CATEGORIES)]
    references = {s.label: packaged.prepare(shapes[s.category], packaged.RATE) for s in sounds}
    counts = packaged.write_set(tmp_path, sounds, references, seed=0, per_process=1)
    processes = tuple(imitation_processes.PROCESSES)
    assert counts["sounds"] == 4 and counts["imitations"] == 4 * len(processes)
    assert counts["per_process"] == {p: 4 for p in processes}
    data = load_vocalsketch(tmp_path, per_sound=len(processes))
    assert not data.report.skipped and not data.report.warnings
    assert len(data.sounds) == 4 and len(data.imitations) == 4 * len(processes)
    assert set(data.sounds.category) == set(packaged.CATEGORIES)
    from vocalsearch_tf.datasets.synthetic import vocalsketch as synthetic_vocalsketch

    assert list(pd.read_csv(tmp_path / "sound_recordings.csv").columns) == synthetic_vocalsketch.SOUND_COLUMNS
    assert list(pd.read_csv(tmp_path / "vocal_imitations.csv").columns) == synthetic_vocalsketch.IMITATION_COLUMNS
    for path in data.sounds.path:
        assert sf.info(path).samplerate == 44_100 and sf.info(path).channels == 1
    for path in data.imitations.path:
        assert sf.info(path).samplerate == 16_000 and sf.info(path).channels == 1
    assert pd.read_csv(tmp_path / "provenance.csv").package.eq("fixture").all()
    check = transfer_check.load_check(tmp_path)  # the parts and processes come back through the sidecars
    assert check.parts == list(packaged.PARTS) and check.processes == sorted(processes)
    assert check.in_distribution == ("voice",) and "voice" not in check.independent
    assert check.versions["espeak"] == imitators.VERSION  # and a record says what wrote what it measured on
    constant = {transfer_check.BASELINE: transfer_check.part_scores(check, lambda s, q: -np.ones((len(q), len(s))))}
    assert transfer_check.result_of(check, constant)["processes"]["espeak"] == {"in_distribution": False,
                                                                               "version": imitators.VERSION}
    assert sorted(check.independent) == sorted(imitation_processes.INDEPENDENT) == ["contour", "espeak", "transform", "vocoder"]
    own_part = dict(zip(check.sounds.sound_id, check.sounds.part))
    assert all(own_part[s] == p for s, p in zip(check.imitations.sound_id, check.imitations.part))
    stats = packaged.stats(tmp_path)
    assert not stats.silent.any()
    # deterministic: the same seed writes the same imitation again
    first = sf.read(data.imitations.path[0])[0]
    data.imitations.path[0].unlink()
    packaged.write_set(tmp_path, sounds, references, seed=0, per_process=1)
    np.testing.assert_array_equal(sf.read(data.imitations.path[0])[0], first)
    # a set written by another version of a process is rewritten, not kept
    sf.write(data.imitations.path[1], np.zeros(1600), 16_000)
    (tmp_path / "processes.json").write_text("{}")
    packaged.write_set(tmp_path, sounds, references, seed=0, per_process=1)
    assert np.any(sf.read(data.imitations.path[1])[0])
    assert packaged._versions(tmp_path / "processes.json")["espeak"] == imitators.VERSION


def test_the_check_keeps_every_imitation_of_a_sound_beyond_vocalsketchs_ten(tmp_path):
    """Five processes of four performers give a sound 20 imitations; VocalSketch's loader
    keeps 10 a sound by default, and the check must not drop the other ten."""
    t = np.arange(int(0.8 * packaged.RATE)) / packaged.RATE
    sound = packaged.Sound("fixture tone", "acoustic instruments", "fixture", "tone.wav", part="tuning")
    references = {sound.label: packaged.prepare(np.sin(2 * np.pi * 330 * t) * np.exp(-3 * t), packaged.RATE)}
    counts = packaged.write_set(tmp_path, [sound], references, seed=0, per_process=4)
    assert counts["imitations"] == 4 * len(imitation_processes.PROCESSES) == 20
    check = transfer_check.load_check(tmp_path)
    assert len(check.imitations) == 20
    assert check.imitations.groupby("process").size().to_dict() == {p: 4 for p in imitation_processes.PROCESSES}


def test_espeak_says_a_syllable_alike_whatever_was_said_before():
    """eSpeak NG keeps state between utterances in one process; each syllable is spoken from
    its fresh state, so a check written in one go equals one written a part at a time."""
    from vocalsearch_tf.datasets.synthetic.speech import say_from_fresh_state

    first = say_from_fresh_state("[[vu:m]]", "en-us", 150, 50, 0)
    for phonemes, voice in (("[[Sa:]]", "fr"), ("[[bz]]", "de"), ("[[vu:m]]", "en-us")):
        say_from_fresh_state(phonemes, voice, 170, 40, 0)
    assert len(first) > 2000
    np.testing.assert_array_equal(say_from_fresh_state("[[vu:m]]", "en-us", 150, 50, 0), first)
    with pytest.raises(RuntimeError, match="'no-such-voice'"):
        say_from_fresh_state("[[a:]]", "no-such-voice", 150, 50, 0)


def test_imitation_follows_pitch_contour_and_loudness():
    """A tone gliding up an octave, loud then soft: the imitations rise, from another voice
    and within its range, and are louder in their first half, on the whole: people follow
    the envelope only roughly and hold the sound as long as they like."""
    import librosa

    sketch = imitators.analyse(glide(), RATE)
    assert sketch.tonal and not sketch.noisy
    people = imitators.participants(np.random.default_rng(0), 4)
    slopes, drops = [], []
    for k, who in enumerate(people):
        voice = imitators.imitate(sketch, who, np.random.default_rng(k))
        assert np.isfinite(voice).all()
        f0, voiced, _ = librosa.pyin(voice / np.max(np.abs(voice)), fmin=60, fmax=800, sr=RATE,
                                     frame_length=1024, hop_length=160)
        frames = np.flatnonzero(voiced)
        assert len(frames) > 50
        semitones = 12 * np.log2(f0[frames])
        slopes.append(np.polyfit(frames / 100, semitones, 1)[0])  # semitones a second
        median_midi = 69 + 12 * np.log2(np.median(f0[frames]) / 440)
        assert who.low - 3 < median_midi < who.high + 4  # folded into the participant's voice range
        rms = librosa.feature.rms(y=voice, frame_length=512, hop_length=160)[0]
        active = np.flatnonzero(rms > 0.1 * rms.max())
        middle = (active[0] + active[-1]) // 2
        drops.append(20 * np.log10(rms[active[0]:middle].mean() / rms[middle:active[-1]].mean()))
    assert sum(0.5 < s < 15 for s in slopes) >= 3, f"pitch slopes {np.round(slopes, 1)} st/s, the sound rises 6"
    assert np.mean(drops) > 0.5, f"loudness drops {np.round(drops, 1)} dB, the sound drops 12"


def test_imitations_start_late_at_spread_levels():
    """People start 0.2-1.5 s late and record at very different levels (peaks -35..-3 dBFS)."""
    rng = np.random.default_rng(0)
    hits = np.zeros(int(1.0 * RATE))
    for k in range(2):
        start = int((0.05 + 0.4 * k) * RATE)
        hits[start:start + 1600] += rng.normal(0, 0.5, 1600) * np.exp(-np.arange(1600) / 300)
    sketch = imitators.analyse(hits, RATE)
    people = imitators.participants(np.random.default_rng(1), 10)
    lags, peaks = [], []
    for k, who in enumerate(people):
        assert imitators.LAG_RANGE[0] <= who.lag[0] < who.lag[1] <= imitators.LAG_RANGE[1]
        for j in range(2):
            info = {}
            voice = imitators.imitate(sketch, who, np.random.default_rng(10 * k + j), info)
            assert imitators.LAG_RANGE[0] <= info["lag"] <= imitators.LAG_RANGE[1]
            peak = 20 * np.log10(np.max(np.abs(voice)))
            assert peak == pytest.approx(info["level_db"], abs=1e-6)
            assert imitators.LEVEL_RANGE[0] - 1e-9 <= peak <= imitators.LEVEL_RANGE[1] + 1e-9
            envelope = np.convolve(voice ** 2, np.ones(160) / 160, mode="same")
            first = np.flatnonzero(envelope > 0.01 * envelope.max())[0] / RATE  # the voice, not the noise floor
            assert info["lag"] - 0.02 <= first <= info["lag"] + 0.6
            lags.append(info["lag"])
            peaks.append(peak)
    assert max(lags) - min(lags) > 0.4
    assert max(peaks) - min(peaks) > 15


def test_fast_sequences_get_fewer_syllables_than_onsets():
    fast = [(0.1 * k, 0.1 * k + 0.05) for k in range(20)]  # 20 onsets, 100 ms apart
    for who in imitators.participants(np.random.default_rng(2), 10):
        said = imitators.events(fast, who)
        assert 1 <= len(said) <= min(who.max_events, 20 * 0.1 / who.syllable_period + 1)
        assert said[0][0] == 0.0 and said[-1][1] == pytest.approx(1.95)  # the whole sequence is covered
    slow = [(0.5 * k, 0.5 * k + 0.3) for k in range(2)]
    assert all(imitators.events(slow, who) == slow for who in imitators.participants(np.random.default_rng(2), 10))


def test_lead_in_and_model_labels(tmp_path):
    reference = np.ones(int(3.9 * packaged.RATE)) * 0.5
    padded = packaged.lead_in(reference, 0.4)
    assert len(padded) == int(packaged.MAX_SECONDS * packaged.RATE)
    assert np.max(np.abs(padded[:int(0.39 * packaged.RATE)])) < 1e-2
    assert packaged.lead_in(reference, 0.0) is reference
    leads = [packaged.lead_in_seconds(f"sound {k}", 0) for k in range(40)]
    assert 5 < sum(lead == 0 for lead in leads) < 35 and max(leads) <= 0.6
    taken = {}
    for spec in ("/a/run_x/model.keras", "/a/run_y/model.keras", "/b/run_y/model.keras", "mine=/c/m.keras"):
        name, path = transfer_check.model_label(spec, taken)
        taken[name] = path
    assert list(taken) == ["run_x/model", "run_y/model", "/b/run_y/model.keras", "mine"]


def test_repeated_hits_are_imitated_with_one_syllable_each():
    import librosa

    rng = np.random.default_rng(0)
    hits = np.zeros(int(2.0 * RATE))
    for k in range(5):
        start = int((0.1 + 0.35 * k) * RATE)
        hits[start:start + 1600] += rng.normal(0, 0.5, 1600) * np.exp(-np.arange(1600) / 200)
    sketch = imitators.analyse(hits, RATE)
    assert len(sketch.segments) == 5 and sketch.percussive
    careful = [p for p in imitators.participants(np.random.default_rng(3), 10) if p.max_events >= 5][0]
    voice = imitators.imitate(sketch, careful, np.random.default_rng(0))
    onsets = librosa.onset.onset_detect(y=voice, sr=RATE, hop_length=160, units="time")
    assert 4 <= len(onsets) <= 8


def test_chance_and_mrr_on_a_hand_made_score_matrix():
    sounds = pd.DataFrame({"sound_id": [1, 2, 3, 4], "category": ["everyday sounds"] * 3 + ["single synthesizer"]})
    queries = pd.DataFrame({"imitation_id": [10, 11, 12, 13], "sound_id": [1, 2, 3, 4],
                            "category": ["everyday sounds"] * 3 + ["single synthesizer"]})
    hand = np.array([[0.9, 0.1, 0.0],   # target 1 first: rank 1
                     [0.5, 0.4, 0.3],   # target 2 second: rank 2
                     [0.9, 0.8, 0.1]])  # target 3 last: rank 3

    def score(members, asking):
        return hand[np.ix_(asking, members)] if len(members) == 3 else np.ones((len(asking), len(members)))

    scores = transfer_check.scoring.per_category(sounds, queries, score)
    mrr = transfer_check.scoring.mrr_by_category(scores)
    assert mrr["ED"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert mrr["SS"] == 1.0  # one candidate
    assert transfer_check.chance(sounds, queries) == {"ED": pytest.approx(metrics.chance_mrr(3)), "SS": 1.0}
    assert metrics.chance_mrr(10) == pytest.approx(0.293, abs=5e-4)
    result = {"mrr": {"chance": {"ED": 0.6, "SS": 1.0}, "CQT-summary baseline": {"ED": 0.5, "SS": 0.9},
                      "iminet tied run 0": {"ED": 0.7, "SS": 0.8}, "iminet tied run 1": {"ED": 0.4, "SS": 1.0}}}
    assert transfer_check.beats_baseline(result) == {"iminet tied run 0": 1, "iminet tied run 1": 1}
    table = transfer_check.table(result)
    assert table.loc["iminet tied (mean of 2 runs)", "ED"] == pytest.approx(0.55)


def test_models_are_found_by_scheme_and_run(tmp_path):
    for scheme in ("tied", "partial"):
        folder = tmp_path / "iminet" / scheme
        folder.mkdir(parents=True)
        for k in (0, 1):
            (folder / f"model_{k:02d}.keras").write_bytes(b"")
    found = transfer_check.find_models(tmp_path)
    assert list(found) == ["iminet tied run 0", "iminet tied run 1", "iminet partial run 0", "iminet partial run 1"]
    assert transfer_check.find_models(tmp_path / "nothing") == {}
