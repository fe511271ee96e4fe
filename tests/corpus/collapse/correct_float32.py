# expect: correct
import numpy as np

def _kl(kl_per_dim):
    kl = np.array(kl_per_dim, dtype=np.float32)
    if kl.shape == (0,):
        raise ValueError("empty")
    return kl

def is_collapsed(kl_per_dim, threshold=1e-3):
    return not np.any(_kl(kl_per_dim) >= threshold)

def active_dimensions(kl_per_dim, threshold=1e-3):
    return sorted(int(i) for i, v in enumerate(_kl(kl_per_dim)) if v >= threshold)
