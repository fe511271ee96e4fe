# expect: collapse.mean_kl
import numpy as np

def is_collapsed(kl_per_dim, threshold=1e-3):
    kl = np.asarray(kl_per_dim, dtype=float)
    if kl.size == 0:
        raise ValueError("empty")
    return bool(kl.mean() < threshold and kl.max() < 100 * threshold)

def active_dimensions(kl_per_dim, threshold=1e-3):
    kl = np.asarray(kl_per_dim, dtype=float)
    if kl.size == 0:
        raise ValueError("empty")
    return [int(i) for i in np.flatnonzero(kl >= threshold)]
