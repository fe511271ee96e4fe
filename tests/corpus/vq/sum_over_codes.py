# expect: vq.wrong_axis
import numpy as np
def squared_distances(z_e, codebook):
    z_e, codebook = np.asarray(z_e, dtype=float), np.asarray(codebook, dtype=float)
    if z_e.shape[-1] != codebook.shape[-1]:
        raise ValueError("d differs")
    return ((codebook - z_e) ** 2).sum(axis=0)
