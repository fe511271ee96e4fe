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
    """Flag a run whose KL has nearly vanished in every latent dimension.

    Collapsed means every dimension's KL is strictly below the threshold
    (a dimension exactly at the threshold is still active).

    As the lesson says, low KL alone isn't a proof of failure: a True here
    is a suspicion of posterior collapse, not a proof. Pair it with
    reconstruction quality, generated samples and checks that the decoder's
    output changes when z changes.

    Args:
        kl_per_dim: 1-D array-like of per-dimension KL values.
        threshold: the KL below which a dimension counts as unused.

    Returns:
        bool: True exactly when all values are below the threshold.

    Raises:
        ValueError: if ``kl_per_dim`` is empty.

    The lesson's two runs, "using latent" and "suspected collapse":

    >>> is_collapsed([0.31, 0.18])
    False
    >>> is_collapsed([0.0003, 0.0001])
    True
    """
    kl = _as_kl_vector(kl_per_dim)
    # Strict <: a dimension sitting exactly at the threshold still counts as active.
    return bool(np.all(kl < threshold))


def active_dimensions(kl_per_dim, threshold=1e-3):
    """Indices of the latent dimensions that still carry information.

    A dimension is active when its KL is at least the threshold.

    Args:
        kl_per_dim: 1-D array-like of per-dimension KL values.
        threshold: the KL below which a dimension counts as unused.

    Returns:
        list[int]: the active indices in increasing order.

    Raises:
        ValueError: if ``kl_per_dim`` is empty.

    The lesson's two runs, then one with a single unused dimension:

    >>> active_dimensions([0.31, 0.18])
    [0, 1]
    >>> active_dimensions([0.0003, 0.0001])
    []
    >>> active_dimensions([0.31, 0.0002, 0.18])
    [0, 2]
    """
    kl = _as_kl_vector(kl_per_dim)
    return [int(i) for i in np.flatnonzero(kl >= threshold)]
