"""Exercise for the lesson section "Watch for posterior collapse": a KL-per-dimension monitor.

Fill in the functions below, then run `vaegrade check collapse`.
"""

import numpy as np


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
    # TODO: turn the input into an array, refuse an empty one, then decide whether
    # every dimension is strictly below the threshold (mind < versus <=).
    raise NotImplementedError


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
    # TODO: refuse an empty input, then list (in increasing order, as ints) the
    # dimensions that still carry information: KL at or above the threshold.
    raise NotImplementedError
