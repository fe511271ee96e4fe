import numpy as np


def logvar_to_sigma(logvar):
    return np.exp(np.asarray(logvar, dtype=np.float64))  # the variance, not sigma
