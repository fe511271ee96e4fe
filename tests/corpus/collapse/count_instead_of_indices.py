# expect: collapse.count_not_indices
import numpy as np

def _kl(kl_per_dim):
    kl = np.asarray(kl_per_dim, dtype=float)
    if kl.size == 0: raise ValueError("no dimensions")
    return kl

def is_collapsed(kl_per_dim, threshold=1e-3):
    kl = _kl(kl_per_dim)
    return bool(np.all(kl < threshold))

def active_dimensions(kl_per_dim, threshold=1e-3):
    kl = _kl(kl_per_dim)
    return int(np.sum(kl >= threshold))
