"""The development check of transfer, version 2: sounds from eight packages in their real
folder layouts, split once by sound; MRR with bootstrap intervals per process and pooled;
the search default chosen on the tuning part only."""

from __future__ import annotations

import collections
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from vocalsearch_tf.datasets import opensfx, packaged
from vocalsearch_tf.evaluation import intervals
from vocalsearch_tf.experiments import transfer_check
from vocalsearch_tf.search import choose_default

CODES = ("AI", "CS", "ED", "SS")


def fake_packages(root, files_per_pool=None):
    """Every pool's folder with short decaying noises named as in the real packages."""
    rng = np.random.default_rng(0)
    roots = {}
    for category, pools in packaged.POOLS.items():
        for pool in (*pools, *packaged.ADDED_POOLS[category]):
            base = root / pool.package
            roots[pool.package] = base
            folder = base / pool.folder
            folder.mkdir(parents=True, exist_ok=True)
            stems = [f"{pool.folder.rsplit('/', 1)[-1]}_{k:02d}" for k in range(pool.count + 3)]
            stems += list(pool.leave_out)
            if pool.include:  # files the pattern keeps, and one it does not
                stems = [f"{s}-Med" for s in stems[:pool.count + 2]] + ["Kick-Soft"]
            for stem in stems:
                x = rng.normal(0, 0.3, 4000) * np.exp(-np.arange(4000) / 800)
                sf.write(folder / f"{stem}.wav", x, 22_050)
    roots[packaged.SOUNDFONT[0]] = root / packaged.SOUNDFONT[0]
    return roots


def test_forty_sounds_a_category_from_fourteen_packages_split_once_by_sound(tmp_path):
    roots = fake_packages(tmp_path)
    sounds = packaged.choose_sounds(roots, seed=0)
    per = collections.Counter((s.category, s.part) for s in sounds)
    assert per == {(c, p): 15 if c == "single synthesizer" else 20 for c in packaged.CATEGORIES for p in packaged.PARTS}
    packages = {s.package for s in sounds}
    assert len(packages) == 14 and packages == set(packaged.PACKAGES)
    assert not packages & (packaged.RESERVED_PACKAGES | packaged.TRAINING_PACKAGES)
    left_out = {stem for table in (packaged.POOLS, packaged.ADDED_POOLS) for pools in table.values()
                for pool in pools for stem in pool.leave_out}
    assert not [s for s in sounds if s.source.rsplit("/", 1)[-1].rsplit(".", 1)[0] in left_out]
    assert not [s for s in sounds if "Kick-Soft" in s.source]  # the GM kit's pattern keeps one velocity
    # each pool's sounds are shared between the parts (within one), so both parts hold every source
    by_pool = collections.defaultdict(collections.Counter)
    for s in sounds:
        by_pool[(s.category, s.package, s.source.rsplit("/", 1)[0])][s.part] += 1
    assert all(abs(c["tuning"] - c["confirmation"]) <= 1 for c in by_pool.values()), by_pool
    again = packaged.choose_sounds(roots, seed=0)
    assert [(s.label, s.part) for s in again] == [(s.label, s.part) for s in sounds]
    other = packaged.choose_sounds(roots, seed=1)
    assert [(s.label, s.part) for s in other] != [(s.label, s.part) for s in sounds]


def test_version_4_adds_drums_loops_and_effects_and_keeps_version_3_as_it_was(tmp_path):
    roots = fake_packages(tmp_path)
    sounds = packaged.choose_sounds(roots, seed=0)
    version_3 = packaged.choose_sounds(roots, seed=0, added={})
    assert len(version_3) == 120 and len(sounds) == 150
    key = lambda s: s.label if s.render else (s.package, s.source)  # noqa: E731 - renderings share a file
    part = {key(s): s.part for s in sounds}
    assert all(part[key(s)] == s.part for s in version_3)  # the same sounds in the same parts
    added = [s for s in sounds if key(s) not in {key(v) for v in version_3}]
    assert collections.Counter(s.category for s in added) == {c: 10 for c in packaged.ADDED_POOLS}
    assert collections.Counter(s.part for s in added) == {"tuning": 15, "confirmation": 15}
    # a sound keeps its imitations where its label stays (these fake files share stems across
    # packages, which renames some; the real ones keep all 120)
    same = {s.label for s in version_3} & {s.label for s in sounds}
    assert len(same) > 60
    ids = [plan[1].set_index("sound_label").loc[sorted(same)].id.tolist()
           for plan in (packaged.plan(sounds, seed=0), packaged.plan(version_3, seed=0))]
    assert ids[0] == ids[1]


def test_the_same_stem_in_two_packages_gets_two_labels():
    sounds = [packaged.Sound("applause", "everyday sounds", "frozen-bubble-data", "a.ogg"),
              packaged.Sound("applause", "everyday sounds", "openttd-opensfx", "b.wav"),
              packaged.Sound("ting", "everyday sounds", "pingus-data", "c.wav")]
    labels = [s.label for s in packaged._unique_labels(sounds)]
    assert labels == ["applause (frozen-bubble-data)", "applause (openttd-opensfx)", "ting"]


def cat_file(path, sounds):
    """A container in OpenTTD's layout: (offset, size) pairs, then length-prefixed descriptions and WAVs."""
    import io

    blobs = []
    for description, samples in sounds:
        buffer = io.BytesIO()
        sf.write(buffer, samples, 11_025, format="WAV", subtype="PCM_16")
        name = description.encode() + b"\0"
        blobs.append((bytes([len(name)]) + name, buffer.getvalue()))
    table, body, offset = b"", b"", 8 * len(blobs)
    for head, wav in blobs:
        table += struct.pack("<II", offset | (0x80000000 if not table else 0), len(wav))
        body += head + wav
        offset += len(head) + len(wav)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(table + body)


def test_opensfx_container_unpacks_into_named_wavs_with_their_credits(tmp_path):
    tone = 0.3 * np.sin(np.arange(4000) / 5.0)
    cat_file(tmp_path / opensfx.CAT, [('"Ship horn". Original by Someone. License: CC0.', tone),
                                     ('"Cow". By Another. License: CC BY 3.0.', tone[:2000])])
    out = opensfx.unpack(tmp_path)
    assert sorted(p.name for p in out.glob("*.wav")) == ["cow.wav", "ship_horn.wav"]
    np.testing.assert_allclose(sf.read(out / "cow.wav")[0], tone[:2000], atol=1e-4)
    assert "CC BY 3.0" in (out / "cow.txt").read_text()
    damaged = tmp_path / "damaged" / opensfx.CAT
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes((tmp_path / opensfx.CAT).read_bytes()[:300])
    with pytest.raises(opensfx.OpenSfxError, match="runs past the end"):
        opensfx.entries(damaged)
    damaged.write_bytes(b"\x03\x00")
    with pytest.raises(opensfx.OpenSfxError, match="too short"):
        opensfx.entries(damaged)


def test_bootstrap_intervals_cover_the_mean_narrow_with_more_imitations_and_judge_differences():
    rng = np.random.default_rng(0)
    small, large = rng.uniform(0, 1, 30), rng.uniform(0, 1, 3000)
    a, b = intervals.mean_interval(small), intervals.mean_interval(large)
    assert a["low"] < a["mean"] < a["high"] and b["low"] < b["mean"] < b["high"]
    assert (b["high"] - b["low"]) < (a["high"] - a["low"]) / 5
    same = intervals.paired_difference(small, small)
    assert (same["difference"], same["low"], same["high"]) == (0, 0, 0) and intervals.verdict(same) == "tie"
    assert intervals.verdict(intervals.paired_difference(small + 0.2, small + rng.normal(0, 0.05, 30))) == "better"
    assert intervals.verdict(intervals.paired_difference(small - 0.2, small)) == "worse"


def hand_made_check(per_cell=6):
    """Two parts x four categories x 3 sounds; per sound `per_cell` imitations by three processes."""
    sounds, imitations = [], []
    for part in packaged.PARTS:
        for category in packaged.CATEGORIES:
            for k in range(3):
                sid = len(sounds)
                sounds.append({"sound_id": sid, "category": category, "part": part, "path": f"/x/{sid}.wav"})
                for j in range(per_cell):
                    imitations.append({"imitation_id": len(imitations), "sound_id": sid, "category": category,
                                       "part": part, "process": ("espeak", "contour", "voice")[j % 3],
                                       "path": f"/x/i{len(imitations)}.wav"})
    return transfer_check.CheckSet(Path("/nonexistent-check"), pd.DataFrame(sounds), pd.DataFrame(imitations), ("voice",))


def scores_where(check, good_rows, noise=1.0, seed=0):
    """(imitations, sounds): the own sound scores high for the imitations in `good_rows`, noise elsewhere."""
    rng = np.random.default_rng(seed)
    m = rng.normal(0, noise, (len(check.imitations), len(check.sounds)))
    own = check.imitations.sound_id.to_numpy()
    m[good_rows, own[good_rows]] += 5.0
    return m


def matrix_scores(check):
    """(imitations, sounds) matrix -> the check's per-part scores of it."""
    return lambda m: transfer_check.part_scores(check, lambda s, q: m[np.ix_(q, s)])


def test_summary_pools_only_the_independent_processes_with_intervals_and_baseline_differences():
    check = hand_made_check()
    everyone = np.arange(len(check.imitations))
    voice_only = np.flatnonzero(check.imitations.process.eq("voice").to_numpy())
    scores = {transfer_check.BASELINE: transfer_check.part_scores(check, lambda s, q: -np.ones((len(q), len(s)))),
              "knows all": transfer_check.part_scores(check, lambda s, q, m=scores_where(check, everyone): m[np.ix_(q, s)]),
              "knows voice": transfer_check.part_scores(
                  check, lambda s, q, m=scores_where(check, voice_only): m[np.ix_(q, s)])}
    result = transfer_check.result_of(check, scores)
    summary = result["summary"]
    assert result["chance"]["confirmation"]["AI"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    # the constant baseline: every target ties with every candidate, rank 3
    assert summary[transfer_check.BASELINE]["tuning"]["pooled"]["ED"]["mean"] == pytest.approx(1 / 3)
    assert summary["knows all"]["confirmation"]["pooled"]["SS"]["mean"] == 1.0
    assert summary["knows voice"]["confirmation"]["voice"]["SS"]["mean"] == 1.0  # in distribution: apart
    assert summary["knows voice"]["confirmation"]["pooled"]["SS"]["mean"] < 0.9  # not pooled with the others
    assert summary["knows all"]["tuning"]["pooled"]["CS"]["n"] == 3 * 4  # 3 sounds x 4 independent imitations
    assert intervals.verdict(summary["knows all"]["confirmation"]["pooled"]["AI"]["minus_baseline"]) == "better"
    table = transfer_check.interval_table(result, "confirmation", "pooled")
    assert list(table.index[:2]) == ["chance", transfer_check.BASELINE]
    assert table.loc["knows all − baseline", "AI"].endswith("better")
    assert "voice (in distribution" in transfer_check.report(result)


def test_default_is_chosen_on_the_tuning_part_and_fusion_is_not_worse_than_its_best_part():
    check = hand_made_check(per_cell=9)
    rows = np.arange(len(check.imitations))
    tuning = check.imitations.part.eq("tuning").to_numpy()
    # cqt-summary: right on the tuning part only; imisound: right on the confirmation part, noisy on tuning
    cqt = scores_where(check, rows[tuning], seed=1)
    imisound = scores_where(check, rows[~tuning & (rows % 2 == 0)], seed=2)
    result, content = choose_default.measure(check, {"cqt-summary": cqt, "imisound": imisound},
                                      baseline=np.zeros_like(cqt))
    # cqt-summary and its fusions with imisound win on the tuning part, within noise of each other
    assert intervals.verdict(content["against_preferred"]["cqt-summary"]) == "better"
    assert content["default"] == "fusion-guarded"  # so `TIE_ORDER` picks
    assert content["best_on_confirmation"] in ("imisound", "fusion")  # reported, never chosen on
    assert content["models"]["cqt-summary"]["confirmation"]["AI"]["mrr"] < content["models"]["imisound"][
        "confirmation"]["AI"]["mrr"]
    assert set(content["fusion_weights"]) == {"cqt-summary", "imisound"}
    mean = lambda name, part: np.mean([v["mrr"] for v in content["models"][name][part].values()])  # noqa: E731
    assert mean("fusion", "tuning") >= max(mean("cqt-summary", "tuning"), mean("imisound", "tuning")) - 1e-9
    assert content["check"]["chance"]["AI"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert all("confirmation_per_process" in content["models"][n] for n in ("cqt-summary", "imisound", "fusion"))
    for part, by_part in content["fusion_against_parts"].items():  # paired, per category: the cards' differences
        for name in ("cqt-summary", "imisound"):
            assert set(by_part[name]) == set(content["models"]["fusion"][part])
            for code, cell in by_part[name].items():
                cards = content["models"]
                assert cell["difference"] == pytest.approx(cards["fusion"][part][code]["mrr"] - cards[name][part][code]["mrr"])
                assert cell["low"] <= cell["difference"] <= cell["high"] and cell["verdict"] == intervals.verdict(cell)


def test_a_trained_model_replaces_the_training_free_default_only_by_a_win_beyond_noise():
    check = hand_made_check(per_cell=9)
    rows = np.arange(len(check.imitations))
    tuning = check.imitations.part.eq("tuning").to_numpy()
    # both know the same few tuning imitations; by noise, iminet ranks a little better
    some = rows[tuning & (rows % 5 == 0)]
    result, content = choose_default.measure(check, {"iminet": scores_where(check, some, seed=3),
                                                     "imisound": scores_where(check, some, seed=4)},
                                             baseline=np.zeros((len(rows), len(check.sounds))))
    difference = content["against_preferred"]["iminet"]
    assert difference["difference"] > 0 and intervals.verdict(difference) == "tie"
    assert content["default"] == "imisound"
    assert content["chosen_on"].startswith("tuning part")


@pytest.mark.parametrize("seeds", [(1, 2), (3, 4), (7, 8)])
def test_the_fusion_is_not_worse_than_its_best_part_on_the_tuning_part(seeds):
    """Equally informed parts: the likelihood fit ranks like the better part, within noise."""
    check = hand_made_check(per_cell=9)
    rows = np.arange(len(check.imitations))
    some = rows[check.imitations.part.eq("tuning").to_numpy() & (rows % 5 == 0)]
    matrices = {"iminet": scores_where(check, some, seed=seeds[0]), "imisound": scores_where(check, some, seed=seeds[1])}
    _, content = choose_default.measure(check, matrices, baseline=np.zeros((len(rows), len(check.sounds))))
    assert content["fusion_weights_from"] == "likelihood fit"
    matrices["fusion"] = sum(w * matrices[name] for name, w in content["fusion_weights"].items())
    ranks = {name: choose_default._tuning_ranks(check, transfer_check.part_scores(check, lambda s, q, m=m: m[np.ix_(q, s)]))
             for name, m in matrices.items()}
    best = max(("iminet", "imisound"), key=lambda name: ranks[name].mean())
    assert intervals.verdict(intervals.paired_difference(ranks["fusion"], ranks[best])) != "worse"


def test_every_model_is_measured_as_if_its_learned_part_ranked_at_chance():
    """iminet knows every imitation, the training-free parts half each: the fitted fusion
    leans on iminet and falls with it; the guarded fusion keeps the training-free ranking."""
    check = hand_made_check(per_cell=9)
    rows = np.arange(len(check.imitations))
    matrices = {"iminet": scores_where(check, rows, seed=5), "imisound": scores_where(check, rows[rows % 2 == 0], seed=6),
                "cqt-summary": scores_where(check, rows[rows % 2 == 1], seed=7)}
    result, content = choose_default.measure(check, matrices, baseline=np.zeros((len(rows), len(check.sounds))))
    failed = content["if_learned_parts_rank_at_chance"]
    assert set(failed) >= {"iminet", "imisound", "cqt-summary", "fusion", "fusion-guarded"}
    chance = content["check"]["chance"]
    mean = lambda name, part="tuning": np.mean(list(failed[name][part].values()))  # noqa: E731
    assert abs(mean("iminet") - np.mean(list(chance.values()))) < 0.1 and not failed["iminet"]["holds_up"]
    for name in ("imisound", "cqt-summary"):  # nothing learnt: the same as measured
        assert failed[name]["confirmation"] == {c: v["mrr"] for c, v in content["models"][name]["confirmation"].items()}
        assert failed[name]["holds_up"]
    assert failed["fusion-guarded"]["holds_up"] and mean("fusion-guarded") > mean("fusion")
    assert "fusion-guarded" in content["models"] and content["default"] != "iminet"


def test_the_guard_is_tested_on_each_imitations_sounds_and_the_probe_bank():
    """Three sounds a category: too few for the guard to tell a network that carries from one
    at chance, so without a bank `fusion-guarded` serves the training-free parts; with a bank
    on which iminet agrees with cqt-summary it is the fusion, and at chance it still drops out."""
    check = hand_made_check(per_cell=9)
    rows = np.arange(len(check.imitations))
    matrices = {"iminet": scores_where(check, rows[rows % 4 != 0], seed=5),  # the training-free parts know the rest
                "imisound": scores_where(check, rows[rows % 4 == 0], seed=6),
                "cqt-summary": scores_where(check, rows[rows % 4 == 0], seed=7)}
    rng = np.random.default_rng(8)
    bank = rng.normal(size=(len(rows), 200))
    probe = {"cqt-summary": bank, "iminet": bank + 0.5 * rng.normal(size=bank.shape)}
    baseline = np.zeros((len(rows), len(check.sounds)))
    _, with_bank = choose_default.measure(check, matrices, baseline=baseline, probe=probe)
    _, without = choose_default.measure(check, matrices, baseline=baseline)
    mean = lambda content, name: np.mean([v["mrr"] for v in content["models"][name]["tuning"].values()])  # noqa: E731
    assert "probe bank of 200" in with_bank["guard_tested_on"] and without["guard_tested_on"] == "the sounds"
    assert mean(with_bank, "fusion-guarded") == pytest.approx(mean(with_bank, "fusion"))
    assert mean(without, "fusion-guarded") < mean(with_bank, "fusion-guarded") - 0.1
    failed = with_bank["if_learned_parts_rank_at_chance"]
    assert failed["fusion-guarded"]["holds_up"]  # shuffled over the sounds and the bank together, it drops out
    small = with_bank["on_small_libraries"]  # each imitation ranks min(10, 3) sounds here, the guard seeing those
    assert small["size"] == 10 and small["chance"]["AI"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)
    assert small["as_measured"]["fusion-guarded"] == small["as_measured"]["fusion"]
    at_chance = {name: np.mean(list(small["at_chance"][name]["tuning"].values())) for name in ("fusion-guarded", "imisound")}
    assert at_chance["fusion-guarded"] >= at_chance["imisound"]


def test_a_model_that_falls_below_imisound_with_its_network_at_chance_is_not_the_default():
    check = hand_made_check(per_cell=9)
    rows = np.arange(len(check.imitations))
    as_scores = matrix_scores(check)
    scores = {"imisound": as_scores(scores_where(check, rows[rows % 4 == 0], seed=1)),
              "cqt-summary": as_scores(scores_where(check, rows[rows % 2 == 0], seed=2)),
              "iminet": as_scores(scores_where(check, rows, seed=3))}
    if_failed = {**scores, "iminet": as_scores(choose_default.at_chance(scores_where(check, rows, seed=3)))}
    chosen, against, holds_up = choose_default.choose(check, scores, if_failed)
    assert intervals.verdict(against["iminet"]) == "better" and against["iminet"]["difference"] > against["cqt-summary"]["difference"]
    assert holds_up == {"iminet": False, "cqt-summary": True}
    assert chosen == "cqt-summary"
    assert choose_default.choose(check, scores)[0] == "iminet"  # measured as it is, it would have won


def test_of_winners_the_check_cannot_tell_apart_the_tie_order_decides():
    """cqt-summary and fusion-guarded both beat imisound beyond noise and tie with each other:
    the largest point estimate would pick by noise, so `TIE_ORDER` picks; one that beats the
    other beyond noise wins whatever the order."""
    check = hand_made_check(per_cell=9)
    rows = np.arange(len(check.imitations))
    as_scores = matrix_scores(check)
    good = rows[rows % 4 != 0]
    scores = {"imisound": as_scores(scores_where(check, rows[rows % 4 == 0], seed=1)),
              "cqt-summary": as_scores(scores_where(check, good, seed=2)),
              "fusion-guarded": as_scores(scores_where(check, good, seed=3))}
    chosen, against, _ = choose_default.choose(check, scores)
    assert intervals.verdict(against["cqt-summary"]) == intervals.verdict(against["fusion-guarded"]) == "better"
    assert choose_default.TIE_ORDER.index("fusion-guarded") < choose_default.TIE_ORDER.index("cqt-summary")
    assert chosen == "fusion-guarded"
    scores["cqt-summary"] = as_scores(scores_where(check, rows, seed=2))  # now right on every imitation
    assert choose_default.choose(check, scores)[0] == "cqt-summary"


def test_a_part_that_ranks_better_than_the_likelihood_fit_is_used_alone():
    """iminet ranks the true sound first by a small margin, except every fourth imitation,
    where it is wildly wrong: its likelihood is poor (beta 0), its ranking the better one."""
    check = hand_made_check(per_cell=9)
    rows, own = np.arange(len(check.imitations)), check.imitations.sound_id.to_numpy()
    rng = np.random.default_rng(0)
    confident = rng.normal(0, 0.1, (len(rows), len(check.sounds)))
    confident[rows, own] += 0.3
    confident[rows[rows % 4 == 0], own[rows % 4 == 0]] -= 30
    weak = rng.normal(0, 1, confident.shape)
    weak[rows, own] += 0.3
    _, content = choose_default.measure(check, {"iminet": confident, "imisound": weak},
                                        baseline=np.zeros_like(confident))
    assert content["models"]["iminet"]["beta"] == pytest.approx(0, abs=1e-6)
    assert content["fusion_weights_from"] == "iminet alone"
    assert content["models"]["fusion"]["tuning"] == content["models"]["iminet"]["tuning"]
    assert all(cell["difference"] == 0 and cell["verdict"] == "tie"
               for by_part in content["fusion_against_parts"].values() for cell in by_part["iminet"].values())


def test_candidates_are_compared_with_the_shipped_model_on_the_same_imitations():
    from vocalsearch_tf.search import compare_candidates

    check = hand_made_check()
    everyone = np.arange(len(check.imitations))
    scores = {"shipped": transfer_check.part_scores(check, lambda s, q, m=scores_where(check, everyone[::3]): m[np.ix_(q, s)]),
              "candidate": transfer_check.part_scores(check, lambda s, q, m=scores_where(check, everyone): m[np.ix_(q, s)])}
    differences = compare_candidates.against(check, scores, "shipped")
    assert set(differences) == {"candidate"}
    pooled = differences["candidate"]["tuning"]["pooled"]
    assert pooled["difference"] > 0 and pooled["verdict"] == "better"
    assert pooled["n"] == 4 * 3 * 4  # categories x sounds x independent imitations, in the tuning part
    table = compare_candidates.difference_table(differences, "shipped")
    assert table.loc["candidate − shipped, confirmation", "voice"].endswith("better")


def test_a_name_given_twice_is_an_ensemble_that_averages_its_members_noise_away():
    from vocalsearch_tf.search import compare_candidates

    assert compare_candidates.grouped(["ens=a.keras", "iminet", "ens=b.keras", "x=c.keras"]) == {
        "ens": ["a.keras", "b.keras"], "iminet": ["iminet"], "x": ["c.keras"]}
    check = hand_made_check(per_cell=9)
    known = np.arange(len(check.imitations))
    # the same knowledge, each seed with its own noise as large as the signal
    members = [scores_where(check, known, noise=4.0, seed=seed) for seed in (11, 12, 13, 14)]
    averaged = compare_candidates.ensemble(members)
    np.testing.assert_allclose(averaged, sum(members) / 4)
    mrr = lambda m: mean_rr(check, m)  # noqa: E731
    assert mrr(averaged) > max(mrr(m) for m in members)


def mean_rr(check, matrix) -> float:
    scores = transfer_check.part_scores(check, lambda s, q: matrix[np.ix_(q, s)])
    return float(transfer_check.reciprocal_ranks(check, scores).rr.mean())


def test_model_cards_say_what_the_default_was_chosen_on_beside_chance_and_the_baseline():
    from vocalsearch_tf.search import models

    content = models.measured()
    assert content["default"] == models.default_name()
    reason = models.default_reason()
    assert f"the default: {content['default']}" in reason and "tuning part" in reason
    for name, d in content["against_preferred"].items():
        assert f"{name} {d['difference']:+.3f}" in reason
    note = models.measurement_note("fusion")
    chance = " / ".join(f"{v:.2f}" for v in content["check"]["chance"].values())
    assert "confirmation part" in note and f"chance {chance}" in note and "CQT-summary baseline" in note
    ai = content["models"]["fusion"]["confirmation"]["AI"]
    assert f"AI {ai['mrr']:.2f} [{ai['low']:.2f}, {ai['high']:.2f}]" in note


def test_the_shipped_ensemble_is_measured_by_its_members_mean_evidence(tmp_path):
    from vocalsearch_tf.search import models

    rng = np.random.default_rng(5)
    (tmp_path / "sound_recordings").mkdir()
    t = np.arange(32_000) / 16_000
    sounds, imitations = [], []
    for k, freq in enumerate((300.0, 900.0, 2500.0)):
        path = tmp_path / "sound_recordings" / f"s{k}.wav"
        sf.write(path, 0.3 * np.sin(2 * np.pi * freq * t) + 0.01 * rng.normal(size=t.size), 16_000)
        sounds.append(str(path))
        hum = tmp_path / f"imitation{k}.wav"
        sf.write(hum, 0.3 * np.sin(2 * np.pi * freq * 1.05 * t[:24_000]), 16_000)
        imitations.append(str(hum))
    check = transfer_check.CheckSet(tmp_path, pd.DataFrame({"path": sounds}), pd.DataFrame({"path": imitations}), ())
    shipped = choose_default.score_matrix(check, "iminet", tmp_path / "index")
    members = [choose_default.score_matrix(check, str(path), tmp_path / "index") for path in models.iminet_members()]
    assert shipped.shape == (3, 3) and len(members) > 1
    np.testing.assert_allclose(shipped, np.mean(members, axis=0), rtol=1e-5, atol=1e-5)
    assert not np.allclose(members[0], members[1])  # the seeds differ: the mean is not one of them
    with pytest.raises(ValueError, match="parts of a fusion"):
        choose_default.score_matrix(check, "fusion", tmp_path / "index")


def test_per_package_cells_show_a_weakness_the_pooled_numbers_average_away():
    check = hand_made_check(per_cell=9)
    packages = pd.Series(np.where(check.sounds.sound_id % 2 == 0, "fonts", "effects"), index=check.sounds.sound_id)
    on_fonts = np.flatnonzero(check.imitations.sound_id.map(packages).eq("fonts").to_numpy())
    m = scores_where(check, on_fonts, seed=4)
    scores = {"knows fonts": transfer_check.part_scores(check, lambda s, q: m[np.ix_(q, s)])}
    cells = transfer_check.per_package(check, scores, packages)
    fonts, effects = cells["confirmation"]["fonts"]["knows fonts"], cells["confirmation"]["effects"]["knows fonts"]
    assert fonts["mean"] > 0.95 and effects["mean"] < 0.8
    independent = check.imitations.process.isin(check.independent) & check.imitations.part.eq("confirmation")
    assert fonts["n"] + effects["n"] == int(independent.sum())  # the in-distribution voice left out
    table = transfer_check.package_table(cells["confirmation"])
    assert table.loc["mean over packages", "knows fonts"] == f"{(fonts['mean'] + effects['mean']) / 2:.3f}"


def test_a_package_holding_most_imitations_does_not_decide_the_default_alone():
    big, small = np.full(100, 1.0), np.full(10, -1.0)  # wins on one large package, loses on a small one
    candidate, groups = np.concatenate([big, small]), np.array(["fonts"] * 100 + ["drums"] * 10)
    reference = np.zeros(110)
    pooled = intervals.paired_difference(candidate, reference)
    balanced = intervals.balanced_paired_difference(candidate, reference, groups)
    assert pooled["difference"] == pytest.approx(90 / 110) and intervals.verdict(pooled) == "better"
    assert balanced["difference"] == pytest.approx(0.0) and intervals.verdict(balanced) == "tie"
    even = np.random.default_rng(0).normal(0.2, 1.0, 120)
    same = intervals.balanced_paired_difference(even, np.zeros(120), np.repeat(["a", "b"], 60))
    assert same["difference"] == pytest.approx(even.mean()) and same["low"] < even.mean() < same["high"]
    assert choose_default.beyond_noise(reference, {"fonts only": candidate})[0] == "fonts only"
    assert choose_default.beyond_noise(reference, {"fonts only": candidate}, groups)[0] is None


def test_the_fusion_weights_are_fitted_with_every_source_package_weighing_the_same(tmp_path):
    """iminet knows the sounds of a large package, imisound those of a small one: fitted with
    each package weighing the same, imisound's share of the fusion grows."""
    check = hand_made_check(per_cell=9)
    small = check.sounds.sound_id % 3 == 0
    pd.DataFrame({"filename": [Path(p).name for p in check.sounds.path],
                  "package": np.where(small, "drums", "fonts")}).to_csv(tmp_path / "provenance.csv", index=False)
    with_packages = transfer_check.CheckSet(tmp_path, check.sounds, check.imitations, check.in_distribution)
    on_small = check.imitations.sound_id.isin(check.sounds.sound_id[small]).to_numpy()
    rows = np.arange(len(check.imitations))
    matrices = {"iminet": scores_where(check, rows[~on_small], seed=5),
                "imisound": scores_where(check, rows[on_small], seed=6)}
    baseline = np.zeros_like(matrices["iminet"])
    share = lambda w: w["imisound"] / w["iminet"]  # noqa: E731
    pooled = choose_default.measure(check, matrices, baseline)[1]
    balanced = choose_default.measure(with_packages, matrices, baseline)[1]
    assert pooled["fusion_weights_from"] == balanced["fusion_weights_from"] == "likelihood fit"
    assert share(balanced["fusion_weights"]) > 1.05 * share(pooled["fusion_weights"])


def test_a_third_part_that_knows_what_the_others_miss_joins_the_fusion_and_gets_a_card():
    check = hand_made_check(per_cell=9)
    rows = np.arange(len(check.imitations))
    tuning = check.imitations.part.eq("tuning").to_numpy()
    matrices = {"iminet": scores_where(check, rows[rows % 3 == 0], seed=7),
                "imisound": scores_where(check, rows[:0], seed=8),  # knows nothing
                "cqt-summary": scores_where(check, rows[rows % 3 == 1], seed=9)}
    _, content = choose_default.measure(check, matrices, baseline=np.zeros_like(matrices["iminet"]))
    weights = content["fusion_weights"]
    assert list(weights) == ["iminet", "imisound", "cqt-summary"]
    assert weights["cqt-summary"] > 0 and weights["iminet"] > 0
    assert set(content["fusion_against_parts"]["confirmation"]) == set(matrices)
    assert "beta" in content["models"]["cqt-summary"] and content["default"] == "fusion"
    mean = lambda name: np.mean([v["mrr"] for v in content["models"][name]["tuning"].values()])  # noqa: E731
    assert mean("fusion") > max(mean(name) for name in matrices) and tuning.any()
