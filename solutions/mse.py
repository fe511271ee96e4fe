"""Reference solution for the lesson section "Compress one photo patch": reconstruction MSE."""

import numpy as np


def reconstruction_mse(x, x_hat):
    x = np.asarray(x, dtype=np.float64)
    x_hat = np.asarray(x_hat, dtype=np.float64)
    # Compare shapes explicitly: numpy would broadcast (4,) against (4, 1) to a
    # (4, 4) grid of differences and return a plausible but meaningless number.
    if x.shape != x_hat.shape:
        raise ValueError(f"x has shape {x.shape} but x_hat has shape {x_hat.shape}")
    if x.size == 0:
        raise ValueError("cannot take the mean of an empty input")
    return float(np.mean((x - x_hat) ** 2))
