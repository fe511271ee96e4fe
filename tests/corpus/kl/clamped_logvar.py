# expect: kl.clamped
import numpy as np

def _terms(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    if mu.shape != logvar.shape:
        raise ValueError("shapes differ")
    return -0.5 * (1 + np.clip(logvar, -10, 10) - mu**2 - np.exp(np.clip(logvar, -10, 10)))

def kl_to_standard_normal(mu, logvar):
    t = _terms(mu, logvar)
    value = t.sum(axis=-1).mean() if t.ndim == 2 else t.sum()
    return max(float(value), 0.0) + 0.0

def kl_per_dimension(mu, logvar):
    t = _terms(mu, logvar)
    return np.maximum(t.mean(axis=0) if t.ndim == 2 else t, 0.0) + 0.0
