# expect: vq.silent_broadcasting
import numpy as np
def squared_distances(z_e, codebook):
    z_e, codebook = np.asarray(z_e, dtype=float), np.asarray(codebook, dtype=float)
    return ((z_e[..., None, :] - codebook) ** 2).sum(axis=-1)
