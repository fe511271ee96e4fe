# expect: collapse.unsorted
import numpy as np

def is_collapsed(kl_per_dim, threshold=1e-3):
    kl = np.asarray(kl_per_dim, dtype=float)
    if kl.size == 0:
        raise ValueError("empty")
    return bool(np.all(kl < threshold))

def active_dimensions(kl_per_dim, threshold=1e-3):
    kl = np.asarray(kl_per_dim, dtype=float)
    if kl.size == 0:
        raise ValueError("empty")
    return sorted((int(i) for i in np.flatnonzero(kl >= threshold)), reverse=True)
