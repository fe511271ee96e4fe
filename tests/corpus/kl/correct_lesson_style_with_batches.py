# expect: correct
import numpy as np

def kl_to_standard_normal(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    if mu.shape != logvar.shape:
        raise ValueError("mu and logvar differ in shape")
    value = -0.5 * np.sum(1 + logvar - mu**2 - np.exp(logvar), axis=-1)
    return max(0.0, float(np.mean(value)))  # Remove negative zero from roundoff.

def kl_per_dimension(mu, logvar):
    mu, logvar = np.asarray(mu, dtype=float), np.asarray(logvar, dtype=float)
    if mu.shape != logvar.shape:
        raise ValueError("mu and logvar differ in shape")
    terms = -0.5 * (1 + logvar - mu**2 - np.exp(logvar))
    return np.clip(terms.reshape(-1, mu.shape[-1]).mean(axis=0), 0.0, None) + 0.0
