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
    z_e = np.asarray(z_e, dtype=np.float64)
    codebook = np.asarray(codebook, dtype=np.float64)
    _check_shapes(z_e.shape, codebook.shape)
    # (..., 1, d) - (K, d) -> (..., K, d), summed over d: (K,) or (n, K).
    return ((z_e[..., None, :] - codebook) ** 2).sum(axis=-1)


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
    codebook = np.asarray(codebook, dtype=np.float64)
    distances = squared_distances(z_e, codebook)
    # argmin, not argmax: the nearest code has the smallest distance.
    # np.argmin returns the first minimum, so ties go to the lowest index.
    indices = np.argmin(distances, axis=-1)
    if distances.ndim == 1:
        return int(indices), codebook[indices].copy()
    return indices, codebook[indices]


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
