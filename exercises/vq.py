"""Exercise for the lesson section "VQ-VAE: replace continuous samples with codes": nearest-code lookup.

Fill in the functions below, then run `vaegrade check vq`.
"""

import numpy as np
import torch


def squared_distances(z_e, codebook):
    """Squared Euclidean distance from encoder output(s) to every codebook vector.

    For each codebook row e_k: the sum over coordinates of the squared
    difference between the encoder vector and e_k (no square root).

    Args:
        z_e: array-like of shape (d,) or (n, d).
        codebook: array-like of shape (K, d).

    Returns:
        np.ndarray of shape (K,) for a (d,) input, (n, K) for an (n, d) input.

    Raises:
        ValueError: if the vector size d of ``z_e`` and ``codebook`` differ.

    The lesson's example, then two encoder vectors at once:

    >>> codebook = [[-0.80, 0.20], [0.65, -0.05], [0.10, 0.90]]
    >>> np.round(squared_distances([0.72, -0.10], codebook), 4)
    array([2.4004, 0.0074, 1.3844])
    >>> squared_distances([[0.72, -0.10], [0.0, 0.0]], codebook).shape
    (2, 3)
    """
    # TODO: check the code sizes match, then compute every squared distance between
    # encoder vector(s) and codebook rows.
    raise NotImplementedError


def nearest_code(z_e, codebook):
    """Quantize: pick the codebook vector nearest to each encoder output.

    The lesson's nearest-neighbour lookup: the index k of the code with the
    smallest squared distance, and that code e_k as the quantized vector.
    Ties go to the lowest index.

    Args:
        z_e: array-like of shape (d,) or (n, d).
        codebook: array-like of shape (K, d).

    Returns:
        For a (d,) input: (index as an int, the code vector of shape (d,)).
        For an (n, d) input: (indices of shape (n,), quantized array of shape (n, d)).

    Raises:
        ValueError: if the vector size d of ``z_e`` and ``codebook`` differ.

    The lesson's example ("selected code ID: 1"), then a batch:

    >>> codebook = [[-0.80, 0.20], [0.65, -0.05], [0.10, 0.90]]
    >>> index, code = nearest_code([0.72, -0.10], codebook)
    >>> index, code.tolist()
    (1, [0.65, -0.05])
    >>> indices, quantized = nearest_code([[0.72, -0.10], [0.0, 1.0]], codebook)
    >>> indices.tolist(), quantized.shape
    ([1, 2], (2, 2))
    """
    # TODO: pick the closest code for each encoder vector (ties: the lowest index)
    # and look it up in the codebook.
    raise NotImplementedError


def quantize_straight_through(z_e, codebook):
    """Nearest-code lookup in torch with the straight-through gradient of VQ-VAE.

    Choosing the nearest code is not differentiable, so VQ-VAE uses a
    straight-through estimator: z_q must behave like two different things.

    - Forward, its value is the nearest codebook vector of each row of z_e
      (what the decoder receives).
    - Backward, the gradient of z_q with respect to z_e is that of the
      identity: whatever gradient reaches z_q is passed to z_e unchanged,
      as if the lookup were not there, so the decoder's gradient reaches the
      encoder.

    Build z_q from z_e so that the part which changes its value carries no
    gradient (in torch, ``.detach()`` makes a tensor a constant for backward).

    Args:
        z_e: torch.Tensor of shape (n, d), the encoder outputs.
        codebook: torch.Tensor of shape (K, d).

    Returns:
        (z_q, indices): z_q of shape (n, d) equal to the nearest codes, and
        indices, a torch integer tensor of shape (n,). Ties go to the lowest index.

    The lesson's example: the value is code 1, the gradient the identity's:

    >>> codebook = torch.tensor([[-0.80, 0.20], [0.65, -0.05], [0.10, 0.90]])
    >>> z_e = torch.tensor([[0.72, -0.10]], requires_grad=True)
    >>> z_q, indices = quantize_straight_through(z_e, codebook)
    >>> [round(v, 2) for v in z_q[0].tolist()], indices.tolist()
    ([0.65, -0.05], [1])
    >>> (z_q * torch.tensor([[2.0, -3.0]])).sum().backward()
    >>> z_e.grad.tolist()
    [[2.0, -3.0]]
    """
    # TODO: find the nearest codes with torch, then build z_q so its forward value is
    # the codes while its gradient flows to z_e unchanged (the straight-through estimator).
    raise NotImplementedError
