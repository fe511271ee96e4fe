"""Exercise for the lesson section "Compress one photo patch": reconstruction MSE.

Fill in the function below, then run `vaegrade check mse`.
"""

import numpy as np


def reconstruction_mse(x, x_hat):
    """Mean squared error between an input and its reconstruction.

    L_recon = (1/N) * sum_i (x_i - x_hat_i)**2, where N counts every element,
    batches included (divide by the total number of values, not the batch size).

    Args:
        x: array-like of any shape (a list, nested list or numpy array).
        x_hat: array-like of exactly the same shape as ``x``.

    Returns:
        The mean as a real scalar (a Python float).

    Raises:
        ValueError: if ``x`` and ``x_hat`` have different shapes. Do not let
            numpy broadcast: (4,) against (4, 1) is an error, not a (4, 4) grid.

    Example from the lesson:

    >>> reconstruction_mse([0.10, 0.90, 0.85, 0.12], [0.12, 0.84, 0.80, 0.14])  # 0.001725
    """
    # TODO: turn both inputs into arrays, refuse mismatched shapes, and return the
    # mean of the squared differences as a Python float.
    raise NotImplementedError
