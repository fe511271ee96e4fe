"""Exercise for the lesson section "VQ-VAE: replace continuous samples with codes": nearest-code lookup.

Fill in the functions below, then run `vaegrade check vq`.
"""

import numpy as np
import torch


def squared_distances(z_e, codebook):
    """Squared Euclidean distance from encoder output(s) to every codebook vector.

    distance[k] = sum_i (z_e[i] - codebook[k, i])**2

    Args:
        z_e: array-like of shape (d,) or (n, d).
        codebook: array-like of shape (K, d).

    Returns:
        np.ndarray of shape (K,) for a (d,) input, (n, K) for an (n, d) input.

    Raises:
        ValueError: if the vector size d of ``z_e`` and ``codebook`` differ.

    Example from the lesson:

    >>> squared_distances([0.72, -0.10], [[-0.80, 0.20], [0.65, -0.05], [0.10, 0.90]])
    ... # array([2.4004, 0.0074, 1.3844])
    """
    # TODO: check the code sizes match, then compute every squared distance between
    # encoder vector(s) and codebook rows.
    raise NotImplementedError


def nearest_code(z_e, codebook):
    """Quantize: pick the codebook vector nearest to each encoder output.

    k = argmin_j ||z_e - e_j||**2 and z_q = e_k. Ties go to the lowest index.

    Args:
        z_e: array-like of shape (d,) or (n, d).
        codebook: array-like of shape (K, d).

    Returns:
        For a (d,) input: (index as an int, the code vector of shape (d,)).
        For an (n, d) input: (indices of shape (n,), quantized array of shape (n, d)).

    Raises:
        ValueError: if the vector size d of ``z_e`` and ``codebook`` differ.

    Example from the lesson:

    >>> nearest_code([0.72, -0.10], [[-0.80, 0.20], [0.65, -0.05], [0.10, 0.90]])
    ... # (1, array([0.65, -0.05]))
    """
    # TODO: pick the closest code for each encoder vector (ties: the lowest index)
    # and look it up in the codebook.
    raise NotImplementedError


def quantize_straight_through(z_e, codebook):
    """Nearest-code lookup in torch with the straight-through gradient of VQ-VAE.

    The lookup itself has no useful gradient. The straight-through estimator
    z_q = z_e + (e_k - z_e).detach() has the codebook values in the forward
    pass and the identity gradient dz_q/dz_e in the backward pass, so the
    decoder's gradient reaches the encoder.

    Args:
        z_e: torch.Tensor of shape (n, d), the encoder outputs.
        codebook: torch.Tensor of shape (K, d).

    Returns:
        (z_q, indices): z_q of shape (n, d) equal to the nearest codes, and
        indices, a torch integer tensor of shape (n,). Ties go to the lowest index.

    Example from the lesson:

    >>> quantize_straight_through(torch.tensor([[0.72, -0.10]]),
    ...     torch.tensor([[-0.80, 0.20], [0.65, -0.05], [0.10, 0.90]]))
    ... # (tensor([[0.65, -0.05]]), tensor([1]))
    """
    # TODO: find the nearest codes with torch, then build z_q so its forward value is
    # the codes while its gradient flows to z_e unchanged (the straight-through estimator).
    raise NotImplementedError
