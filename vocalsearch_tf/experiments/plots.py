"""Figure helpers shared by the notebooks."""

from __future__ import annotations

from pathlib import Path

import librosa
import matplotlib.pyplot as plt
import numpy as np


def log_mel_image(samples: np.ndarray, rate: int, n_mels: int = 64, fmax: float = 8000.0) -> np.ndarray:
    mel = librosa.feature.melspectrogram(y=samples, sr=rate, n_fft=1024, hop_length=256,
                                         n_mels=n_mels, fmax=min(fmax, rate / 2))
    return librosa.power_to_db(mel, ref=np.max, top_db=80)


def reference_and_imitations(reference: tuple[np.ndarray, int], imitations: list[tuple[np.ndarray, int]],
                             title: str, path: Path | None = None):
    """A reference's mel spectrogram beside those of its imitations (same time axis)."""
    clips = [reference, *imitations]
    longest = max(len(x) / r for x, r in clips)
    fig, axes = plt.subplots(1, len(clips), figsize=(3.2 * len(clips), 2.8), sharey=True)
    for k, (ax, (x, rate)) in enumerate(zip(axes, clips)):
        image = log_mel_image(x, rate)
        ax.imshow(image, origin="lower", aspect="auto", cmap="magma",
                  extent=[0, len(x) / rate, 0, image.shape[0]])
        ax.set_xlim(0, longest)
        ax.set_title("reference" if k == 0 else f"imitation {k}", fontsize=9)
        ax.set_xlabel("time (s)")
    axes[0].set_ylabel("mel band (0-8 kHz)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    if path is not None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=110)
    return fig
