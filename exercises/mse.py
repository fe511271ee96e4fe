"""Exercise for the lesson section "Compress one photo patch": reconstruction MSE.

Fill in the function below, then run `vaegrade check mse`.
"""

import numpy as np


def reconstruction_mse(x, x_hat):
    """Mean squared error between an input and its reconstruction.

    The lesson's L_recon: square each difference between an input value and
    its reconstruction, then average over every element. N counts all the
    values, batches included (the total number of values, not the batch size).

    Args:
        x: array-like of any shape (a list, nested list or numpy array).
        x_hat: array-like of exactly the same shape as ``x``.

    Returns:
        The mean as a real scalar (a Python float).

    Raises:
        ValueError: if ``x`` and ``x_hat`` have different shapes. Do not let
            numpy broadcast: (4,) against (4, 1) is an error, not a (4, 4) grid.

    The lesson's worked example, then a batch of two patches:

    >>> round(reconstruction_mse([0.10, 0.90, 0.85, 0.12], [0.12, 0.84, 0.80, 0.14]), 6)
    0.001725
    >>> round(reconstruction_mse([[0.0, 1.0], [1.0, 1.0]], [[0.0, 0.0], [1.0, 0.5]]), 4)
    0.3125
    >>> reconstruction_mse([0.1, 0.2, 0.3, 0.4], [[0.1], [0.2], [0.3], [0.4]])  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: x has shape (4,) but x_hat has shape (4, 1)
    """
    # TODO: turn both inputs into arrays, refuse mismatched shapes, and return the
    # mean of the squared differences as a Python float.
    raise NotImplementedError
