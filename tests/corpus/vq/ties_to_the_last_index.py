# expect: vq.tie_last
import numpy as np
def nearest_code(z_e, codebook):
    z_e, codebook = np.asarray(z_e, dtype=float), np.asarray(codebook, dtype=float)
    if z_e.shape[-1] != codebook.shape[-1]:
        raise ValueError("d differs")
    def one(z):
        best, best_d = 0, float("inf")
        for k, code in enumerate(codebook):
            d = float(((z - code) ** 2).sum())
            if d <= best_d:
                best, best_d = k, d
        return best
    if z_e.ndim == 1:
        k = one(z_e)
        return k, codebook[k]
    idx = np.array([one(z) for z in z_e])
    return idx, codebook[idx]
