# expect: correct
import numpy as np

def is_collapsed(kl_per_dim, threshold=1e-3):
    kl = np.asarray(kl_per_dim)
    if kl.size == 0:
        raise ValueError("empty")
    return (kl < threshold).all()                          # np.bool_

def active_dimensions(kl_per_dim, threshold=1e-3):
    kl = np.asarray(kl_per_dim)
    if not len(kl):
        raise ValueError("empty")
    return np.where(kl >= threshold)[0]                    # an int64 array
