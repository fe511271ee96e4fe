"""Exercise for the lesson section "Keep posteriors near a sampleable prior": KL to N(0, I).

Fill in the functions below, then run `vaegrade check kl`.
"""

import numpy as np


def kl_to_standard_normal(mu, logvar):
    """KL divergence from a diagonal Gaussian posterior to the prior N(0, I).

    KL(N(mu, diag sigma**2) || N(0, I)) = -0.5 * sum_j (1 + logvar_j - mu_j**2 - exp(logvar_j))

    Note the minus sign in front, and exp(logvar) (the variance), not exp(0.5 * logvar).

    Args:
        mu: array-like of shape (latent,) or (batch, latent).
        logvar: array-like of the same shape as ``mu``.

    Returns:
        A Python float. For 1-D input, the sum over latent dimensions; for 2-D
        input, the batch mean of the per-example sums. It is zero when mu = 0
        and logvar = 0, and never negative: round-off can produce a tiny
        negative value or -0.0, so clip at zero and make sure you return 0.0.

    Raises:
        ValueError: if ``mu`` and ``logvar`` have different shapes.

    Examples from the lesson:

    >>> kl_to_standard_normal([0.0, 0.0], [0.0, 0.0])     # 0.0
    >>> kl_to_standard_normal([0.4, -0.2], [-0.7, 0.1])   # 0.2009
    >>> kl_to_standard_normal([2.0, -1.5], [-1.5, 1.2])   # 4.0466
    """
    # TODO: check the shapes match, compute the lesson's formula per element, reduce it
    # over the latent axis (and then over the batch for 2-D input, as the docstring
    # says), and make sure round-off can never give a negative number or -0.0.
    raise NotImplementedError


def kl_per_dimension(mu, logvar):
    """The KL contribution of each latent dimension.

    Entry j is -0.5 * (1 + logvar_j - mu_j**2 - exp(logvar_j)). For a
    (batch, latent) input, each dimension's value is averaged over the batch.
    The entries sum to ``kl_to_standard_normal(mu, logvar)``. This is the
    signal the posterior-collapse monitor watches.

    Args:
        mu: array-like of shape (latent,) or (batch, latent).
        logvar: array-like of the same shape as ``mu``.

    Returns:
        np.ndarray of shape (latent,), never negative and never -0.0.

    Raises:
        ValueError: if ``mu`` and ``logvar`` have different shapes.

    Example from the lesson:

    >>> kl_per_dimension([0.4, -0.2], [-0.7, 0.1])  # two values that sum to 0.2009
    """
    # TODO: the same per-element terms, kept per dimension: average over the batch
    # for 2-D input; no entry may be negative or -0.0.
    raise NotImplementedError
