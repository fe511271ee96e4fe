"""Reference solution for the lesson section "A VAE learns distributions over codes": logvar to sigma."""

import numpy as np


def logvar_to_sigma(logvar):
    """Convert a predicted log-variance into a standard deviation.

    The encoder outputs logvar, the logarithm of the variance sigma**2, which
    may be any real number. Undo the logarithm and then the square to get back
    to sigma: the result is positive for every real logvar, which is why the
    encoder predicts a log-variance rather than a raw standard deviation.
    Careful not to stop halfway: the variance is not the standard deviation.

    Args:
        logvar: array-like of any shape; values may range over [-50, 50] and
            the result must stay finite.

    Returns:
        np.ndarray of the same shape as ``logvar``, every value positive
        (a 0-d input may give a numpy scalar).

    The lesson's worked example (its variance would be [0.497, 1.105]):

    >>> np.round(logvar_to_sigma([-0.70, 0.10]), 3)
    array([0.705, 1.051])
    >>> logvar_to_sigma([[0.0, 0.0]]).shape
    (1, 2)
    >>> bool(np.all(logvar_to_sigma([-50.0, 50.0]) > 0))
    True
    """
    logvar = np.asarray(logvar, dtype=np.float64)
    # The encoder predicts log(sigma**2), any real number. Half of it is
    # log(sigma), so exp(0.5 * logvar) is a positive standard deviation;
    # exp(logvar) would be the variance.
    return np.exp(0.5 * logvar)
