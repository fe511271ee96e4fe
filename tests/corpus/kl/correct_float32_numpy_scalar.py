# expect: correct
import numpy as np

def _check(mu, logvar):
    mu, logvar = np.asarray(mu, np.float32), np.asarray(logvar, np.float32)
    if mu.shape != logvar.shape:
        raise ValueError("shape mismatch")
    return mu, logvar

def kl_per_dimension(mu, logvar):
    mu, logvar = _check(mu, logvar)
    per = 0.5 * (np.exp(logvar) + mu * mu - 1 - logvar)
    per = np.atleast_2d(per).mean(axis=0)
    return np.where(per > 0, per, np.float32(0.0))

def kl_to_standard_normal(mu, logvar):
    return np.float32(kl_per_dimension(mu, logvar).sum())
