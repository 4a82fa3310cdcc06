"""The papers' settings as frozen dataclasses, and the run profiles.

Section numbers refer to Zhang, Pardo & Duan, "Siamese style convolutional neural
networks for sound search by vocal imitation" (IEEE/ACM TASLP), the "TASLP paper".
Where a paper is silent the choice is made here, said in a comment, and used by every
model alike.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass


@dataclass(frozen=True)
class ConstantQParams:
    """IMINET's CQT front-end (TASLP IV-A): 6 octaves from 50 Hz, 12 bins per octave.

    The paper used the MATLAB CQT toolbox; here the kernels are librosa's Hann-windowed
    wavelets (`librosa.filters.wavelet`, L1-normalised, scaled by sqrt(length) as in
    `librosa.cqt`), evaluated as a strided time-domain correlation inside the graph.
    """

    sample_rate: int = 16_000
    fmin: float = 50.0
    n_bins: int = 72
    bins_per_octave: int = 12
    hop_length: int = 420  # 26.25 ms at 16 kHz
    n_frames: int = 129  # the end is truncated, short clips are zero-padded
    # Choice: the paper gives no compression. We feed log(|CQT| + 1e-4) to the network,
    # a -80 dB floor below a full-scale sinusoid's response (~1).
    log_offset: float = 1e-4
    # Kernel lengths are rounded up to a multiple of this: measured on CPU, such
    # lengths make the framed matrix product several times faster than odd ones.
    kernel_multiple: int = 64

    @property
    def clip_samples(self) -> int:
        """Waveform length that yields exactly `n_frames` centred frames."""
        return (self.n_frames - 1) * self.hop_length + 1

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_bins, self.n_frames)


@dataclass(frozen=True)
class LogMelParams:
    """A log-mel front-end: window = hop (non-overlapping analysis, TASLP V-A/V-B)."""

    sample_rate: int
    n_mels: int
    fmin: float
    fmax: float
    win_length: int
    hop_length: int
    n_fft: int  # the window sits centred in an FFT frame of this (power-of-2) length
    n_frames: int
    # Choice: natural log of the mel power plus 1e-8 (a -80 dB floor), the compression
    # of librosa.power_to_db up to a constant factor, without its data-dependent `ref`.
    log_offset: float = 1e-8

    @property
    def clip_samples(self) -> int:
        return (self.n_frames - 1) * self.hop_length + 1

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_mels, self.n_frames)


# TASLP V-A: 39 bands 0-5 kHz, 8.33 ms window and hop at 16 kHz, 4 s -> 39 x 482.
IMITATION_LOGMEL = LogMelParams(
    sample_rate=16_000, n_mels=39, fmin=0.0, fmax=5_000.0,
    win_length=133, hop_length=133, n_fft=256, n_frames=482,
)
# TASLP V-B: 128 bands 0-22.05 kHz, 23 ms window and hop at 44.1 kHz, 3 s -> 128 x 128.
RECORDING_LOGMEL = LogMelParams(
    sample_rate=44_100, n_mels=128, fmin=0.0, fmax=22_050.0,
    win_length=1024, hop_length=1024, n_fft=1024, n_frames=128,
)
IMINET_CQT = ConstantQParams()
# Fan et al. 2020, 5.1: 22 050 Hz, window 4096, step 2048, 128 mel bands: a 10 s clip gives
# 108 centred frames x 128 bands. The paper gives no band limits: 0 Hz to Nyquist, as above.
FAN_LOGMEL = LogMelParams(
    sample_rate=22_050, n_mels=128, fmin=0.0, fmax=11_025.0,
    win_length=4096, hop_length=2048, n_fft=4096, n_frames=108,
)


@dataclass(frozen=True)
class LogFrequencyParams:
    """Manocha et al. 2018's front-end (3.2): a log-magnitude spectrogram on a log-frequency
    axis, 79 bands x 171 frames = 13 509 values per 2 s clip.

    The paper's numbers disagree: a 64 ms window with 32 ms overlap gives ~62 frames in 2 s,
    not 171. Choice: the sample counts are what it means. A 1024-point FFT with a
    1024-sample window and a 512-sample hop (50 % overlap) at 44.1 kHz, the rate of ESC-50
    and UrbanSound8K, gives exactly 1 + (88 200 - 1024) // 512 = 171 uncentred frames in
    2 s; "64 ms / 32 ms" are those sample counts read at 16 kHz. "Both axes converted to
    the log scale" is read as log frequency and log magnitude: a time axis cannot be
    log-warped into frames that are then concatenated as equals.
    """

    sample_rate: int = 44_100
    n_fft: int = 1024  # also the (periodic Hann) window length
    hop_length: int = 512
    n_bins: int = 79
    n_frames: int = 171  # frame t covers samples [t * hop, t * hop + n_fft): no centring
    # Choice (the paper gives no band limits): band centres log-spaced from 50 Hz to Nyquist,
    # ~9 per octave. Bands narrower than the FFT's 43 Hz bins are widened to one bin each
    # side, so no band is empty; each band is a triangle normalised to sum 1 (a weighted
    # mean of the STFT power under it).
    fmin: float = 50.0
    fmax: float = 22_050.0
    # natural log of the band power plus this floor (~-110 dB below a full-scale sine)
    log_offset: float = 1e-6

    @property
    def clip_samples(self) -> int:
        """88 064 samples (1.997 s): exactly `n_frames` frames, nothing left over."""
        return (self.n_frames - 1) * self.hop_length + self.n_fft

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_bins, self.n_frames)


MANOCHA_LOGFREQ = LogFrequencyParams()

# TL-IMINET input scaling (the paper gives none), one rule for all four configurations:
# each tower standardises with the mean and variance of its own pretraining data (speech
# for the imitation tower, urban sounds for the recording tower), "No Pre-train" included.
# Transferred filters only mean what they learnt on inputs scaled as in pretraining, while
# a freshly initialised tower learns as well on any fixed affine scaling, so the
# configurations then differ only in the weights they copy. The alternative,
# "vocalsketch" (the VocalSketch training moments everywhere), is notebook 04's ablation row.
TL_STANDARDISATION = "pretraining"


@dataclass(frozen=True)
class AugmentationParams:
    """Training-time augmentation of log-CQT pairs (`augment.py`). Not in the papers: the
    embedded data's voices and sounds are cleaner and more alike than real ones, and
    these draws stand for what a real microphone, room and singer add (issue 17)."""

    p_pitch_shift: float = 0.5
    max_pitch_shift: int = 3  # semitones (CQT bins) either way: a singer's choice of key
    # off in the papers' notebooks; a candidate for the shipped model (`train_default --pitch-scale`)
    p_pitch_scale: float = 0.0
    pitch_scale: tuple[float, float] = (0.7, 1.0)  # a voice squeezes a sound's range into its own
    p_time_stretch: float = 0.5
    max_stretch: float = 1.2  # tempo factor either way
    p_time_shift: float = 0.6
    max_delay_frames: int = 30  # a start up to 0.8 s later: people react late
    max_advance_frames: int = 8  # or 0.2 s earlier: a recording cut close to its onset
    gain_db: float = 20.0  # level, every example: recordings differ by tens of dB
    p_eq: float = 0.7
    eq_db: float = 12.0  # peak-to-peak scale of the smooth EQ curve
    eq_terms: int = 3
    p_reverb: float = 0.4
    reverb_frames: tuple[float, float] = (2.0, 15.0)  # decay time constant, frames (50-400 ms)
    reverb_length: int = 24  # frames of tail kept (0.63 s)
    p_noise: float = 0.5
    snr_db: tuple[float, float] = (5.0, 35.0)
    noise_tilt_db: tuple[float, float] = (-3.0, 3.0)  # dB per octave in CQT bins (0 = pink)
    bins_per_octave: int = 12
    # Early stopping waits this many epochs: on augmented pairs the validation loss is flat
    # or noisy at first, and a quick run was seen to stop at epoch 6 at chance level.
    early_stopping_from: int = 8


# IMINET's training pairs on the embedded data are augmented (notebook 03); on VocalSketch,
# as in the papers, they are not. Every operation: measured on the development check (issue
# 17, `make transfer-check`), three tied runs of `quick` beat the CQT-summary baseline in
# 4, 3 and 4 of 4 categories (mean MRR .407 against .378); with level, EQ, pitch and time
# shift alone, in 3, 1 and 3.
EMBEDDED_AUGMENTATION = AugmentationParams()


@dataclass(frozen=True)
class Profile:
    """How much work a run does. `paper` follows the papers; the others shrink it.

    Later components add their own fields here; every field has a value per profile.
    """

    name: str
    n_runs: int  # trainings per configuration (TASLP VI-B: 10)
    max_epochs: int | None  # cap on early-stopped training; None = no cap
    speech_clips_per_language: int  # TASLP V-A: 8000 from distinct speakers
    urban_clips_per_class: int  # UrbanSound8K has 8732 clips in all; ~870 per class
    # test folds of UrbanSound8K's 10-fold cross-validation trained (the first ones); the
    # transferred tower trains for the median of their best epoch counts
    urban_folds: int = 10
    # sounds per VocalSketch category in the embedded set; None = all (40/40/120/40)
    vocalsketch_sounds: dict[str, int] | None = None
    pretrain_max_epochs: int | None = None  # tower pretraining (early-stopped); None = no cap
    tl_epochs: int = 30  # TL-IMINET trains a fixed number of epochs (TASLP V-D: 30)
    tl_runs: int | None = None  # TL-IMINET runs per configuration; None = n_runs
    # notebook 04's ablation row (the other standardisation rule): a fifth TL-IMINET training,
    # left out of `quick` to keep `make reproduce` within 30 min on 2 cores (`ci` still runs it)
    tl_ablation: bool = True
    imisound_epochs: int = 30  # IMISOUND auto-encoder training epochs (the paper gives none)
    # Language-ID pretraining (Adam; the paper gives no learning rate). `paper`: 1e-3, Adam's
    # own default and the rate every other fit here uses: with 39 200 training clips from
    # distinct speakers (V-A) a CNN of this size does not overfit within an epoch, and early
    # stopping on a tenth of the speakers guards the rest. `ci`/`quick` train on 490 eSpeak
    # clips, where 1e-3 was measured to overfit in a few epochs and stop near chance (10 %
    # test accuracy; 27 % at 1e-4), so they use 1e-4.
    language_id_learning_rate: float = 1e-3
    # (train, validate) clips of the embedded SONYC-UST-layout set (Fan 2020; SONYC-UST v1
    # has 2351 / 443). None: this profile makes no embedded SONYC-UST set (reported, not an error).
    sonyc_ust_clips: tuple[int, int] | None = None
    # Manocha et al. 2018 (notebook 07). The embedded ESC-50-layout set: clips per class (real
    # ESC-50: 40) and their length (real: 5 s; at least 2 s, the clip the model reads). None:
    # this profile makes no embedded ESC-50 set (reported, not an error).
    esc50_clips_per_class: int | None = None
    esc50_seconds: float = 5.0
    # clips per class of the 60-class retrieval set (3.1: 100 recordings per class; ESC-50 has
    # 40, so this caps UrbanSound8K's classes), split 70/10/20 per class
    manocha_clips_per_class: int = 100
    manocha_max_epochs: int = 200  # 3.2: 200 epochs, the model chosen on validation
    manocha_runs: int = 1  # trainings per pair set (the paper reports one)
    # margins m tried on the validation split with N_R^B (2.2 gives no value; a 128-d ReLU
    # embedding of standardised 13 509-d inputs starts with distances of ~7)
    manocha_margins: tuple[float, ...] = (3.0, 10.0, 30.0, 100.0, 300.0)
    # Coarse-grained query by vocal imitation on VimSketch (notebook 09, `coarse.py`). Sounds
    # per VocalSketch category that the embedded VimSketch-layout set takes from the embedded
    # VocalSketch-shaped set (None: all): TL-IMINET's imitation tower costs ~75 s an epoch per
    # 1700 pairs on 2 cores, and each fold trains on 90 % of the references.
    vimsketch_sounds: dict[str, int] | None = None
    coarse_folds: int = 10  # folds trained and tested, of the protocol's 10 (the first ones)
    coarse_max_epochs: int | None = None  # cap on IMINET's early-stopped training per fold; None = no cap
    coarse_tl_epochs: int = 30  # TL-IMINET epochs per fold (TASLP V-D: 30)
    # Today's dual encoder (notebook 10, `experiments/field_today.py`), from aisfx's weights and
    # from random initialisation alike: trainings per system (None = n_runs), the cap of its
    # early-stopped fit (Greif et al.: 15 epochs), and the first conv blocks of each tower left
    # frozen (Greif et al.: none). `coarse_dual_encoder`: train them on notebook 09's folds too.
    dual_encoder_runs: int | None = None
    dual_encoder_epochs: int = 15
    dual_encoder_frozen_blocks: int = 0
    coarse_dual_encoder: bool = True


CI_VOCALSKETCH = {"acoustic instruments": 4, "commercial synthesizers": 4,
                  "everyday sounds": 8, "single synthesizer": 4}

# (`VOCALSEARCH_SMOKE_STEPS`, below `get_profile`, runs any of them with every fit cut to a few
# batches: `make test` runs `paper` so.)
# `quick` is sized for `make reproduce` in 30 min on a 2-core CPU: TL-IMINET's imitation
# tower costs ~40 s an epoch there (1680 pairs), so its runs and epochs are cut hardest;
# augmented IMINET runs ~2 min each, 2 per configuration of at most 25 epochs. `paper` is
# meant for a GPU.
PROFILES: dict[str, Profile] = {
    "ci": Profile("ci", n_runs=1, max_epochs=2, speech_clips_per_language=6,
                  urban_clips_per_class=10, urban_folds=2, vocalsketch_sounds=CI_VOCALSKETCH,
                  pretrain_max_epochs=1, tl_epochs=1, tl_runs=1, imisound_epochs=1,
                  language_id_learning_rate=1e-4, sonyc_ust_clips=(24, 8),
                  esc50_clips_per_class=4, esc50_seconds=2.0, manocha_clips_per_class=4,
                  manocha_max_epochs=3, manocha_margins=(30.0,),
                  coarse_folds=1, coarse_max_epochs=1, coarse_tl_epochs=1,
                  # the coarse fold's dual encoders (~1 min) are left to `paper`, which make test's
                  # smoke run takes; `ci` runs twice in make test
                  dual_encoder_runs=1, dual_encoder_epochs=1, dual_encoder_frozen_blocks=3,
                  coarse_dual_encoder=False),
    "quick": Profile("quick", n_runs=2, max_epochs=25, speech_clips_per_language=100,
                     urban_clips_per_class=40, urban_folds=4, pretrain_max_epochs=15, tl_epochs=3, tl_runs=1, tl_ablation=False,
                     imisound_epochs=8, language_id_learning_rate=1e-4, sonyc_ust_clips=(240, 60),
                     esc50_clips_per_class=24, esc50_seconds=2.0, manocha_clips_per_class=24,
                     manocha_max_epochs=25, manocha_margins=(30.0,),
                     # 80 references (8 per test fold), 1 of 10 folds: notebook 09 in ~2 min
                     vimsketch_sounds={c: 20 for c in CI_VOCALSKETCH}, coarse_folds=1,
                     coarse_max_epochs=5, coarse_tl_epochs=1,
                     # notebook 10 within 8 min on 2 cores. Measured there (load 2-3): a step of 32
                     # pairs costs 2.6 s with the first 3 blocks frozen, 5.2 s with 2; an epoch of
                     # 840 pairs with its 360 validation pairs ~1.5 min; embedding the 1320 test
                     # clips ~40 s per system. So one epoch, and the coarse fold's dual encoders are
                     # left to `ci` and `paper`
                     dual_encoder_runs=1, dual_encoder_epochs=1, dual_encoder_frozen_blocks=3,
                     coarse_dual_encoder=False),
    "paper": Profile("paper", n_runs=10, max_epochs=None, speech_clips_per_language=8000,
                     urban_clips_per_class=873, pretrain_max_epochs=None, tl_epochs=30,
                     sonyc_ust_clips=(2351, 443), esc50_clips_per_class=40, esc50_seconds=5.0,
                     manocha_runs=3),
}


def get_profile(name: str | None = None) -> Profile:
    """The named profile; without a name, $VOCALSEARCH_PROFILE or 'quick'. Under the smoke
    switch with $VOCALSEARCH_SMOKE_RUNS, its repetition counts are capped (`smoke_runs`)."""
    name = name or os.environ.get("VOCALSEARCH_PROFILE", "quick")
    try:
        profile = PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {sorted(PROFILES)}") from None
    if smoke_runs():
        profile = dataclasses.replace(profile, **{field: min(getattr(profile, field), smoke_runs())
                                                  for field in repetition_fields(profile)})
    return profile


# The smoke switch: `VOCALSEARCH_SMOKE_STEPS=N` runs a profile's code paths, not its numbers.
# Every fit (Keras fits, the written-out loops, pretraining, IMISOUND's auto-encoder, Manocha's
# and Fan's fits, the visualisation's gradient ascent and Griffin-Lim) then takes at most N
# batches (steps) per epoch, each of at most SMOKE_BATCH_SIZE examples, for at most SMOKE_EPOCHS
# epochs; validation sets are cut the same way. Every other setting keeps the profile's value
# (runs, recipe objects, learning rates, folds, margins, partners, pair order).
# The embedded data is generated at `ci`'s sizes, in `ci`'s own folder (the same files a `ci`
# run makes), and results go to `results/<profile>-smoke/` and `figures/<profile>-smoke/`;
# run fingerprints carry N, so a smoke run is never reused by a real one or the other way round.
# `VOCALSEARCH_SMOKE_RUNS=R` (read only under the switch) also caps every repetition count of
# the profile (`repetition_fields`: runs per configuration, folds) at R: `make test` sets R = 2
# to fit its time budget, which still runs every multi-run and multi-fold branch.
SMOKE_STEPS_VARIABLE = "VOCALSEARCH_SMOKE_STEPS"
SMOKE_RUNS_VARIABLE = "VOCALSEARCH_SMOKE_RUNS"
SMOKE_EPOCHS = 2  # two, so the code that picks a best epoch has a choice to make
SMOKE_BATCH_SIZE = 16  # a batch's compute, not its count, is what a smoke fit of big towers spends
SMOKE_DATA_PROFILE = "ci"


def _environment_count(variable: str) -> int | None:
    value = os.environ.get(variable, "").strip() or "0"
    if not value.isdigit():
        raise ValueError(f"${variable}={value!r}: give a whole number, or 0 to turn it off")
    return int(value) or None


def smoke_steps() -> int | None:
    """N of $VOCALSEARCH_SMOKE_STEPS, or None when the switch is off (unset, empty or 0)."""
    return _environment_count(SMOKE_STEPS_VARIABLE)


def smoke_runs() -> int | None:
    """R of $VOCALSEARCH_SMOKE_RUNS under the smoke switch, else None (no cap)."""
    return _environment_count(SMOKE_RUNS_VARIABLE) if smoke_steps() else None


def repetition_fields(profile: Profile) -> list[str]:
    """The profile's counts of repeated trainings: runs per configuration (`n_runs`, `*_runs`)
    and folds trained (`*_folds`). A None among them means "as `n_runs`" and stays None."""
    return [f.name for f in dataclasses.fields(profile)
            if f.name.endswith(("_runs", "_folds")) and getattr(profile, f.name) is not None]


def results_folder(profile: str) -> str:
    """The folder of a profile's results and figures (`results/<this>/<dataset>/seed<seed>`):
    the profile's name, with `-smoke` under the smoke switch."""
    return f"{profile}-smoke" if smoke_steps() else profile


def embedded_data_profile(profile: Profile) -> Profile:
    """The profile whose sizes (and folder) the embedded data is generated at: `profile`, or
    under the smoke switch `ci` (`paper`'s sizes would take hours to generate)."""
    return PROFILES[SMOKE_DATA_PROFILE] if smoke_steps() else profile


def as_dict(params) -> dict:
    """A dataclass's fields as a plain dict, for tables and JSON records."""
    return dataclasses.asdict(params)


@dataclass(frozen=True)
class AisfxLogMelParams:
    """The aisfx encoder's front-end (Ma & Lerch, ISMIR 2022; aisfx 0.1.2, the Essentia path its
    `inference.main` uses by default and the paper used), as read from the package's source:

    44.1 kHz mono; frames of 2048 samples every 1024, the first centred on sample 0 (Essentia's
    FrameCutter, zero padding at both ends); a symmetric Hann window, not normalised; the power
    spectrum |X|^2; 96 triangular bands on the HTK mel scale from 0 Hz to Nyquist, triangles
    linear in mel ('warping' weighting), each band's weights summing to 1 ('unit_sum');
    log10(1 + 1e4 * band power), divided by the package's 'original' maximum 9.4578 (minimum 0).
    The network sees blocks of 100 frames (~2.3 s) taken every 50 frames.
    """

    sample_rate: int = 44_100
    n_fft: int = 2048  # also the window length
    hop_length: int = 1024
    n_mels: int = 96
    fmin: float = 0.0
    fmax: float = 22_050.0
    log_scale: float = 1e4  # log10(1 + log_scale * power)
    norm_max: float = 9.457798957824707  # spectrogram_normalize(spec_norm='original'): (s - 0) / max
    n_frames: int = 100  # EMB_BLOCK_LENGTH: one embedding per block of this many frames
    block_hop: int = 50  # emb_hop_size 0.5 of the block

    @property
    def clip_samples(self) -> int:
        """Samples under the `n_frames` frames (102 400, 2.32 s): later ones do not change the embedding."""
        return (self.n_frames - 1) * self.hop_length + self.n_fft // 2

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_mels, self.n_frames)


@dataclass(frozen=True)
class NTXentParams:
    """The contrastive loss of Greif, Schmid, Primus & Widmer, "Improving query-by-vocal imitation
    with contrastive learning and audio pretraining" (DCASE 2024 workshop; code Jonathan-Greif/QBV),
    `training.contrastive.nt_xent`. Read from their code, `helpers/utils.py` class `NTXent`, used
    as `NTXent()` by `ex_qbv.py --criterion nt_xent` (the default):

    - one direction, imitation -> reference: each imitation's cosine similarities to the batch's
      references, over the temperature, in a softmax over the references (not symmetric: no
      reference -> imitation term);
    - "adapted": a batch's other pairs whose reference is the same sound (their `labels`, the
      reference's concept) are left out of the denominator, not counted as negatives;
    - the loss is the mean over the batch's imitations.
    The QVIM 2025 baseline (qvim-aes/qvim-baseline `ex_qvim.py`, "based on" Greif et al.) is the
    same one-directional loss with tau 0.07 but keeps same-reference pairs as negatives
    (`exclude_same_reference=False`).
    """

    # QBV helpers/utils.py: NTXent(temperature=0.07), fixed; the QVIM baseline's --initial_tau 0.07,
    # not trained unless --tau_trainable
    temperature: float = 0.07
    exclude_same_reference: bool = True


NT_XENT = NTXentParams()

# The embedded data's augmentation (EMBEDDED_AUGMENTATION, `augment.augment`) on aisfx's log-mel
# (`augment.augment_aisfx`). Frame counts are rescaled from the CQT's 26.25 ms hop to aisfx's
# 23.2 ms (1024 / 44 100), so every draw lasts as many seconds as before: delays up to 34 frames
# (0.79 s), advances 9, reverb decay 2.3-17 frames, tails 27. A shift of the 96 HTK mel bands is
# no fixed musical interval: a band is ~36 Hz wide at 300 Hz and ~96 Hz at 2 kHz, so 2 bands
# is ~4 semitones at 300 Hz and ~1.6 at 2 kHz, near the CQT's 3 semitones where voices put
# their pitch. The noise tilt keeps 12 bands an octave: the bands average ~11 an octave from 100 Hz
# to 10 kHz, and with 'unit_sum' bands (a mean of the power under each) a tilt of 0 is white noise.
AISFX_AUGMENTATION = dataclasses.replace(
    EMBEDDED_AUGMENTATION, max_pitch_shift=2, max_delay_frames=34, max_advance_frames=9,
    reverb_frames=(2.3, 17.0), reverb_length=27)


# --- Fan et al. 2020 (notebook 08): the fit recipe of 5.3 and how much of the paper each profile runs

@dataclass(frozen=True)
class FanRecipe:
    """5.3: RMSProp, lr 1e-3, batch 128, epochs chosen on 10 % of the training clips."""

    learning_rate: float = 1e-3
    batch_size: int = 128
    validation_fraction: float = 0.1
    max_epochs: int = 100  # the selection run's cap (the paper gives none)
    patience: int = 10  # early stopping on the validation pairs (the paper gives none)
    retrain: bool = True  # retrain on all training clips for the chosen epochs (5.3)


@dataclass(frozen=True)
class FanProfile:
    """How much of Fan et al. 2020 a profile runs (one per entry of PROFILES, under the same name).
    Variants are named as `models.fan2020.VARIANTS` names them."""

    partners: int  # 4.2: 30 partners per situation, category and target
    recipe: FanRecipe
    runs: int
    variants: tuple[str, ...] | None  # variants trained on the pretrained embedding; None = all 8
    logmel_variants: tuple[str, ...] | None  # variants also trained on log-mel; None = all 8
    # How partners are taken (4.2 does not say): "random" (seeded draws) or "first" (the
    # first in file order, the same partners for every target). On the real SONYC-UST v1
    # training labels, 30 + 30 partners give 471 555 distinct pairs with "first" and 938 610
    # with "random" (seed 0), against the paper's 218 173: `paper` takes the closer, "first".
    pair_order: str = "random"


# `ci` only exercises the code: one epoch, and four variants that between them take every
# option once. `quick` fits notebook 08 in 5 min on 2 cores, generating its 300 clips (25-80 s)
# and their features (12-40 s, by load) included. Measured on 2 cores shared with other jobs (load 3-6):
# 2 partners and up to 5 epochs took 10 min (all 8 embedding variants 185 s; log-mel 288 s);
# training time goes with partners x epochs, so `quick` trains on 2/5 of that: 1 partner and
# up to 4 epochs took 2.9 min in all (load 2-3; generation 23 s, features 12 s, training and
# scoring 131 s, of which log-mel 71 s). The cost: at 2 partners and 5 epochs 175 of the 216
# (variant, query group, s, K) cells beat the random order, here 130.
FAN_CI_VARIANTS = ("single-siamese-attention", "single-plain-mean", "multi-siamese-mean", "multi-plain-attention")
FAN_PROFILES: dict[str, FanProfile] = {
    "ci": FanProfile(2, FanRecipe(max_epochs=1, patience=1, retrain=False), 1, FAN_CI_VARIANTS,
                     ("single-siamese-attention",)),
    "quick": FanProfile(
        partners=1,  # 1 + 1 per category and target (paper 30 + 30): ~3 200 distinct pairs on 216 clips
        # up to 4 epochs: validation loss still falls there (notebook 08 counts the runs), so
        # the variants are undertrained and their comparison says which learns fastest, not
        # which is best; patience 2 only stops a run whose validation loss rose twice; the
        # best epoch's weights are kept instead of retraining (which would double the time)
        recipe=FanRecipe(max_epochs=4, patience=2, retrain=False),
        runs=1,
        variants=None,  # all 8 on the pretrained embedding (10 steps: ~5-15 s a variant)
        # log-mel (108 steps, ~23 s an epoch at 1 partner) for the main model only
        logmel_variants=("single-siamese-attention",)),
    "paper": FanProfile(30, FanRecipe(), 1, None, None, pair_order="first"),
}
