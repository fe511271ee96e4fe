# expect: kl.per_dim_not_summed
import numpy as np

def kl_per_dimension(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    if mu.shape != logvar.shape:
        raise ValueError("shapes differ")
    t = -0.5 * (1 + logvar - mu**2 - np.exp(logvar))
    return np.maximum(t.mean(axis=0) if t.ndim == 2 else t, 0.0) + 0.0

def kl_to_standard_normal(mu, logvar):
    return kl_per_dimension(mu, logvar)
