# expect: kl.logvar_squared
import numpy as np

def _terms(mu, logvar):
    mu = np.asarray(mu, dtype=float)
    logvar = np.asarray(logvar, dtype=float)
    if mu.shape != logvar.shape:
        raise ValueError("shapes differ")
    return -0.5 * (1 + logvar - mu**2 - logvar**2)

def kl_to_standard_normal(mu, logvar):
    t = _terms(mu, logvar)
    value = t.sum(axis=-1).mean() if t.ndim == 2 else t.sum()
    return max(0.0, float(value))

def kl_per_dimension(mu, logvar):
    t = _terms(mu, logvar)
    per_dim = t.mean(axis=0) if t.ndim == 2 else t
    return np.maximum(per_dim, 0.0) + 0.0
