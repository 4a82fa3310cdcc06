"""Layer specifications: a network is a table of these, built by `build_layers`."""

from __future__ import annotations

from dataclasses import dataclass

import keras


@dataclass(frozen=True)
class Conv:
    name: str
    filters: int
    kernel: tuple[int, int]  # (frequency, time)


@dataclass(frozen=True)
class Pool:
    name: str
    size: tuple[int, int]  # (frequency, time); stride = size


@dataclass(frozen=True)
class Dense:
    name: str
    units: int
    activation: str
    dropout: float = 0.0


def make_layer(spec, prefix: str = "", padding: str = "valid"):
    """A Keras layer (or, for Dense with dropout, a (dense, dropout) pair) for a spec."""
    name = f"{prefix}{spec.name}"
    if isinstance(spec, Conv):
        return keras.layers.Conv2D(spec.filters, spec.kernel, padding=padding, activation="relu", name=name)
    if isinstance(spec, Pool):
        return keras.layers.MaxPooling2D(spec.size, name=name)
    if isinstance(spec, Dense):
        return keras.layers.Dense(spec.units, activation=spec.activation, name=name)
    raise TypeError(f"unknown layer spec {spec!r}")


def apply_head(x, table, prefix: str = ""):
    """Dense layers of `table` (with their dropout) on x."""
    for spec in table:
        x = make_layer(spec, prefix)(x)
        if spec.dropout:
            x = keras.layers.Dropout(spec.dropout, name=f"{prefix}{spec.name}_dropout")(x)
    return x
