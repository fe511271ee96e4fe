"""Exercise for the lesson section "A VAE learns distributions over codes": logvar to sigma.

Fill in the function below, then run `vaegrade check sigma`.
"""

import numpy as np


def logvar_to_sigma(logvar):
    """Convert a predicted log-variance into a standard deviation.

    The encoder outputs logvar = log(sigma**2), which may be any real number.
    Half of it is log(sigma), so sigma = exp(0.5 * logvar) is always positive.
    Careful: exp(logvar) is the variance sigma**2, not sigma.

    Args:
        logvar: array-like of any shape; values may range over [-50, 50] and
            the result must stay finite.

    Returns:
        np.ndarray of the same shape as ``logvar``, every value positive
        (a 0-d input may give a numpy scalar).

    Example from the lesson:

    >>> logvar_to_sigma([-0.70, 0.10])  # array([0.705, 1.051]) (rounded)
    """
    # TODO: turn logvar into an array and convert it to a standard deviation
    # (a variance is not a standard deviation).
    raise NotImplementedError
