# expect: kl.negative_zero
import numpy as np

def kl_to_standard_normal(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    if mu.shape != logvar.shape:
        raise ValueError("shapes differ")
    inner = np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)
    return float(-0.5 * np.mean(inner))

def kl_per_dimension(mu, logvar):
    mu, logvar = np.atleast_2d(mu), np.atleast_2d(logvar)
    if mu.shape != logvar.shape:
        raise ValueError("shapes differ")
    return np.maximum(-0.5 * (1 + logvar - mu**2 - np.exp(logvar)).mean(axis=0), 0.0) + 0.0
