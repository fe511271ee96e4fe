"""Reference solution for the lesson section "A VAE learns distributions over codes": logvar to sigma."""

import numpy as np


def logvar_to_sigma(logvar):
    logvar = np.asarray(logvar, dtype=np.float64)
    # The encoder predicts log(sigma**2), any real number. Half of it is
    # log(sigma), so exp(0.5 * logvar) is a positive standard deviation;
    # exp(logvar) would be the variance.
    return np.exp(0.5 * logvar)
