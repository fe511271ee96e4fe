# expect: vq.l1_distance
import numpy as np
import torch

def _check(d_z, codebook_shape):
    if len(codebook_shape) != 2 or d_z != codebook_shape[1]:
        raise ValueError("mismatched d")

def squared_distances(z_e, codebook):
    z_e, codebook = np.asarray(z_e, dtype=float), np.asarray(codebook, dtype=float)
    _check(z_e.shape[-1], codebook.shape)
    return np.abs(z_e[..., None, :] - codebook).sum(axis=-1)

def nearest_code(z_e, codebook):
    codebook = np.asarray(codebook, dtype=float)
    d = squared_distances(z_e, codebook)
    idx = np.argmin(d, axis=-1)
    return (int(idx), codebook[idx]) if d.ndim == 1 else (idx, codebook[idx])

def quantize_straight_through(z_e, codebook):
    _check(z_e.shape[-1], tuple(codebook.shape))
    with torch.no_grad():
        idx = torch.argmin(((z_e[:, None, :] - codebook[None]) ** 2).sum(-1), dim=1)
    codes = codebook[idx]
    return z_e + (codes - z_e).detach(), idx
