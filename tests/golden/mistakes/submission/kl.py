"""KL to N(0, I), summed over the batch instead of averaged (a named mistake)."""
import numpy as np


def _terms(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=np.float64), np.asarray(logvar, dtype=np.float64)
    if mu.shape != logvar.shape:
        raise ValueError("mu and logvar must have the same shape")
    return -0.5 * (1.0 + logvar - mu ** 2 - np.exp(logvar))


def kl_to_standard_normal(mu, logvar):
    return max(float(_terms(mu, logvar).sum()), 0.0)   # summed over the batch too


def kl_per_dimension(mu, logvar):
    terms = _terms(mu, logvar)
    return np.maximum(terms.mean(axis=0) if terms.ndim == 2 else terms, 0.0)
