# expect: correct
import numpy as np
import torch
import torch.nn.functional as F
def squared_distances(z_e, codebook):
    z = np.asarray(z_e, dtype=np.float32)
    c = np.asarray(codebook, dtype=np.float32)
    if c.ndim != 2 or z.shape[-1] != c.shape[1]:
        raise ValueError(f"bad shapes {z.shape} and {c.shape}")
    return np.square(np.expand_dims(z, -2) - c).sum(-1)
def nearest_code(z_e, codebook):
    d = squared_distances(z_e, codebook)
    k = d.argmin(-1)
    c = np.asarray(codebook, dtype=np.float32)
    return (np.int64(k), c[k]) if d.ndim == 1 else (k, c[k])
def quantize_straight_through(z_e, codebook):
    with torch.no_grad():
        d = (z_e.unsqueeze(1) - codebook.unsqueeze(0)).pow(2).sum(-1)
        idx = d.argmin(1)
    one_hot = F.one_hot(idx, codebook.shape[0]).to(codebook.dtype)
    return z_e + (one_hot @ codebook - z_e).detach(), idx
