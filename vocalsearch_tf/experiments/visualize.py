"""Activation maximisation (TASLP VII; ICASSP 2018 section 4, eq. 1-2) and Griffin-Lim
sonification of the patterns.

A copy of a trained model with every ReLU replaced by a leaky ReLU (slope 0.3) is frozen;
an input is optimised by gradient ascent on  A(x) - lambda * ||x||^2  (lambda 0.1, ICASSP
eq. 1-2) from a random start. Choices where the papers are silent:
- x is the input the convolutional layers see: the spectrogram after the model's
  `*_standardise` layer (the papers' networks read their inputs as they are); it starts
  from N(0, 0.1^2), and ||x||^2 is the sum of squares over every time-frequency cell, as in
  the paper (`penalty="mean"` divides it by the number of cells, the weaker penalty that
  notebook 06 shows beside it); patterns are shown and sonified in the log-spectrogram domain;
- a convolutional filter's activation is the mean of its feature map over all positions;
  an FC1 neuron's is its output, with the (imitation, recording) pair optimised jointly;
- Fig. 9's FC1 neurons are the ones "the rest can be well represented by" (ICASSP 4.3):
  the neurons nearest the centres of a k-means clustering of FC1's weight columns;
- Adam, learning rate 0.05, a fixed number of steps.
Under the smoke switch (`config.smoke_steps`) the ascent and Griffin-Lim take at most its N steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import librosa
import numpy as np
import soundfile as sf
import tensorflow as tf

from vocalsearch_tf.config import ConstantQParams, LogMelParams
from vocalsearch_tf.training import runs
from vocalsearch_tf.training.recipes import capped_steps

LEAKY_SLOPE = 0.3
PENALTY = 0.1


def _leaky(x):
    return keras.activations.leaky_relu(x, negative_slope=LEAKY_SLOPE)


def leaky_copy(model: keras.Model) -> keras.Model:
    """A copy of `model` with every ReLU activation replaced by leaky ReLU (slope 0.3) and
    the same weights; `model` itself is left as it was."""

    def clone(layer):
        config = layer.get_config()
        if config.get("activation") == "relu":
            config["activation"] = _leaky
        return layer.__class__.from_config(config)

    copy = keras.models.clone_model(model, clone_function=clone)
    copy.set_weights(model.get_weights())
    copy.trainable = False
    return copy


def standardisation(model: keras.Model, tower: str) -> tuple[float, float]:
    """Mean and deviation of a tower's input standardisation (IMINET shares one layer)."""
    names = {layer.name for layer in model.layers}
    config = model.get_layer(f"{tower}_standardise" if f"{tower}_standardise" in names else "standardise").get_config()
    return float(np.ravel(config["mean"])[0]), float(np.sqrt(np.ravel(config["variance"])[0]))


@dataclass
class Patterns:
    """Optimised inputs (log-spectrogram domain), and the objective at start and end."""

    inputs: dict[str, np.ndarray]  # tower -> (patterns, freq, time)
    start: np.ndarray  # activation of each target before optimisation
    end: np.ndarray  # and after
    objective_start: np.ndarray  # A(x) - lambda ||x||^2 before optimisation
    objective_end: np.ndarray  # and after


def tower_input(model: keras.Model, tower: str):
    """The model input feeding `tower` ('imitation' or 'recording')."""
    matches = [t for t in model.inputs if t.name.startswith(tower)]
    if len(matches) != 1:
        raise ValueError(f"{model.name}: no single input for the {tower} tower in {[t.name for t in model.inputs]}")
    return matches[0]


def objective(activation: tf.Tensor, inputs: list[tf.Tensor], penalty: str = "sum") -> tf.Tensor:
    """ICASSP eq. 1-2 per pattern: A(x) - lambda * sum over the towers' inputs of ||x||^2,
    with ||x||^2 the sum of squares (`penalty="sum"`, the paper) or their mean ("mean")."""
    reduce = {"sum": tf.reduce_sum, "mean": tf.reduce_mean}[penalty]
    return activation - PENALTY * tf.add_n([reduce(tf.square(x), axis=list(range(1, len(x.shape)))) for x in inputs])


def representative_neurons(model: keras.Model, layer: str = "fc1", k: int = 2, seed: int = 0) -> list[int]:
    """The k neurons of a dense layer that the rest are best represented by: those nearest
    the centres of a k-means clustering (scikit-learn) of their incoming weight vectors."""
    from sklearn.cluster import KMeans

    weights = np.asarray(model.get_layer(layer).kernel).T
    weights = weights / np.linalg.norm(weights, axis=1, keepdims=True)
    clusters = KMeans(k, n_init=10, random_state=seed).fit(weights)
    distances = np.linalg.norm(weights[:, None, :] - clusters.cluster_centers_[None], axis=2)
    return sorted(int(np.argmin(distances[:, c])) for c in range(k))


def maximise(model: keras.Model, output: str, units: list[int], towers: list[str], steps: int = 200,
             learning_rate: float = 0.05, seed: int = 0, penalty: str = "sum") -> Patterns:
    """Activation maximisation of `units` of layer `output` of `model` (a `leaky_copy`),
    over the inputs of `towers` (one tower, or both for FC neurons): one pattern (or
    pattern pair) per unit, optimised together as a batch."""
    target = keras.Model([tower_input(model, t) for t in towers], model.get_layer(output).output)
    moments = {t: standardisation(model, t) for t in towers}
    rng = np.random.default_rng(seed)
    x = {t: tf.Variable(0.1 * rng.standard_normal((len(units), *tower_input(model, t).shape[1:])).astype(np.float32))
         for t in towers}
    optimizer = keras.optimizers.Adam(learning_rate)
    rows, columns = tf.range(len(units)), tf.constant(units)

    def activation():
        raw = [x[t] * moments[t][1] + moments[t][0] for t in towers]  # the model standardises again
        out = target(raw if len(raw) > 1 else raw[0])
        if len(out.shape) == 4:  # a conv layer: mean of each filter's map
            out = tf.reduce_mean(out, axis=[1, 2])
        return tf.gather_nd(out, tf.stack([rows, columns], axis=1))

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = -tf.reduce_sum(objective(activation(), list(x.values()), penalty))
        optimizer.apply_gradients(zip(tape.gradient(loss, list(x.values())), list(x.values())))

    def score():
        act = activation()
        return act.numpy(), objective(act, list(x.values()), penalty).numpy()

    start = score()
    # Grappler's remapper fails on the leaky-ReLU gradients (a logged "remapper failed"
    # error; TensorFlow then runs the graph unfused): it is switched off while tracing.
    remapping = tf.config.optimizer.get_experimental_options().get("remapping")
    tf.config.optimizer.set_experimental_options({"remapping": False})
    try:
        for _ in range(capped_steps(steps)):
            step()
    finally:
        tf.config.optimizer.set_experimental_options({"remapping": True if remapping is None else remapping})
    end = score()
    patterns = {t: x[t].numpy()[..., 0] * moments[t][1] + moments[t][0] for t in towers}
    return Patterns(patterns, start[0], end[0], start[1], end[1])


def maximise_cached(folder: Path, fingerprint: dict, name: str, model: keras.Model, output: str, units: list[int],
                    towers: list[str], **settings) -> Patterns:
    """`maximise`, saved in `folder` under a key of `fingerprint` (of the trained models and
    the code), the model's `name` and the call's settings; the same call again reads it back."""
    key = runs.digest(fingerprint, name, output, list(units), towers, settings)
    path = Path(folder) / f"{output}-{key}.npz"
    if path.exists():
        with np.load(path) as saved:
            return Patterns({t: saved[f"inputs/{t}"] for t in towers}, saved["start"], saved["end"],
                            saved["objective_start"], saved["objective_end"])
    result = maximise(model, output, units, towers, **settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {f"inputs/{t}": result.inputs[t] for t in towers}
    tmp = path.with_name(path.stem + ".part.npz")
    np.savez(tmp, start=result.start, end=result.end, objective_start=result.objective_start,
             objective_end=result.objective_end, **arrays)
    tmp.replace(path)
    return result


def sonify_cached(path: Path, pattern: np.ndarray, params: LogMelParams | ConstantQParams) -> np.ndarray:
    """The pattern's sound (`sonify_mel` or `sonify_cqt`), written to `path`; read back from
    there when that file was made from the same pattern and settings (Griffin-Lim is slow)."""
    path, key = Path(path), runs.digest(np.asarray(pattern, np.float32), params)
    stamp = path.with_suffix(".digest")
    if path.exists() and stamp.exists() and stamp.read_text() == key:
        return sf.read(path, dtype="float32")[0]
    audio = sonify_mel(pattern, params) if isinstance(params, LogMelParams) else sonify_cqt(pattern, params)
    sf.write(path, audio, params.sample_rate, subtype="FLOAT")  # read back exactly
    stamp.write_text(key)
    return audio


def sonify_mel(pattern: np.ndarray, params: LogMelParams, n_iter: int = 64, seed: int = 0) -> np.ndarray:
    """A log-mel pattern (our `LogMel` domain) as audio: mel power (relative to the peak)
    -> STFT magnitude (librosa's NNLS inversion) -> Griffin-Lim, peak-normalised."""
    power = _relative_exp(pattern, floor=np.log(params.log_offset))
    magnitude = librosa.feature.inverse.mel_to_stft(power, sr=params.sample_rate, n_fft=params.n_fft,
                                                    power=2.0, fmin=params.fmin, fmax=params.fmax)
    audio = librosa.griffinlim(magnitude, n_iter=capped_steps(n_iter), hop_length=params.hop_length,
                               win_length=params.win_length, n_fft=params.n_fft, window="hann",
                               center=True, pad_mode="constant", random_state=seed)
    return _normalise(audio)


def sonify_cqt(pattern: np.ndarray, params: ConstantQParams, n_iter: int = 32, seed: int = 0) -> np.ndarray:
    """A log-CQT pattern (our `ConstantQ` domain) as audio with `librosa.griffinlim_cqt`."""
    magnitude = _relative_exp(pattern, floor=np.log(params.log_offset))
    audio = librosa.griffinlim_cqt(magnitude, sr=params.sample_rate, hop_length=params.hop_length,
                                   fmin=params.fmin, bins_per_octave=params.bins_per_octave,
                                   n_iter=capped_steps(n_iter), random_state=seed)
    return _normalise(audio)


def _relative_exp(pattern: np.ndarray, floor: float) -> np.ndarray:
    """exp of a log pattern taken relative to its peak and floored (at -80 dB for our
    offsets): optimised patterns can leave the range of real spectrograms, and only their
    shape, not their absolute level, is meant to be heard."""
    relative = np.asarray(pattern, dtype=np.float64) - np.max(pattern)
    return np.exp(np.maximum(relative, floor))


def _normalise(audio: np.ndarray, peak: float = 0.9) -> np.ndarray:
    audio = np.nan_to_num(np.asarray(audio, dtype=np.float32))
    top = float(np.max(np.abs(audio))) if audio.size else 0.0
    return audio * (peak / top) if top > 0 else audio


def pattern_grid(ax_grid, patterns: np.ndarray, titles: list[str], cmap: str = "gray"):
    """Draw patterns (n, freq, time) into a row of axes: time frames across, bins up."""
    for ax, pattern, title in zip(ax_grid, patterns, titles):
        ax.imshow(pattern, origin="lower", aspect="auto", cmap=cmap)
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("time frames", fontsize=7)
        ax.tick_params(labelsize=6)
    ax_grid[0].set_ylabel("mel bins", fontsize=7)
