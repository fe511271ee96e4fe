"""Reference solution for the lesson section "Watch for posterior collapse": a KL-per-dimension monitor."""

import numpy as np


def _as_kl_vector(kl_per_dim):
    kl = np.asarray(kl_per_dim, dtype=np.float64)
    if kl.ndim != 1:
        raise ValueError(f"expected a 1-D vector of per-dimension KL, got shape {kl.shape}")
    if kl.size == 0:
        raise ValueError("no latent dimensions given")
    return kl


def is_collapsed(kl_per_dim, threshold=1e-3):
    kl = _as_kl_vector(kl_per_dim)
    # Strict <: a dimension sitting exactly at the threshold still counts as active.
    return bool(np.all(kl < threshold))


def active_dimensions(kl_per_dim, threshold=1e-3):
    kl = _as_kl_vector(kl_per_dim)
    return [int(i) for i in np.flatnonzero(kl >= threshold)]
