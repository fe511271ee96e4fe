# expect: vq.index_float
"""Reference solution for the lesson section "VQ-VAE: replace continuous samples with codes": nearest-code lookup."""

import numpy as np
import torch


def _check_shapes(z_e_shape, codebook_shape):
    if len(codebook_shape) != 2 or codebook_shape[0] == 0:
        raise ValueError(f"codebook must have shape (K, d) with K >= 1, got {tuple(codebook_shape)}")
    if len(z_e_shape) not in (1, 2):
        raise ValueError(f"z_e must have shape (d,) or (n, d), got {tuple(z_e_shape)}")
    if z_e_shape[-1] != codebook_shape[1]:
        raise ValueError(
            f"z_e vectors have {z_e_shape[-1]} dimensions but codes have {codebook_shape[1]}"
        )


def squared_distances(z_e, codebook):
    z_e = np.asarray(z_e, dtype=np.float64)
    codebook = np.asarray(codebook, dtype=np.float64)
    _check_shapes(z_e.shape, codebook.shape)
    # (..., 1, d) - (K, d) -> (..., K, d), summed over d: (K,) or (n, K).
    return ((z_e[..., None, :] - codebook) ** 2).sum(axis=-1)


def nearest_code(z_e, codebook):
    codebook = np.asarray(codebook, dtype=np.float64)
    distances = squared_distances(z_e, codebook)
    # argmin, not argmax: the nearest code has the smallest distance.
    # np.argmin returns the first minimum, so ties go to the lowest index.
    indices = np.argmin(distances, axis=-1)
    if distances.ndim == 1:
        return float(indices), codebook[indices].copy()
    return indices, codebook[indices]


def quantize_straight_through(z_e, codebook):
    _check_shapes(tuple(z_e.shape), tuple(codebook.shape))
    if z_e.dim() != 2:
        raise ValueError(f"z_e must have shape (n, d), got {tuple(z_e.shape)}")
    with torch.no_grad():
        distances = ((z_e[:, None, :] - codebook[None, :, :]) ** 2).sum(dim=-1)
        # torch.argmin returns the first minimal index: ties go to the lowest index.
        indices = torch.argmin(distances, dim=1)
    codes = codebook[indices]
    # The lookup has no useful gradient. Straight-through: forward, z_q equals
    # the chosen codes; backward, the detached difference is a constant, so
    # dz_q/dz_e is the identity and the decoder's gradient reaches the encoder.
    z_q = z_e + (codes - z_e).detach()
    return z_q, indices
