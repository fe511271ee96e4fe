"""Reference solution for the lesson section "Keep posteriors near a sampleable prior": KL to N(0, I)."""

import numpy as np


def _kl_terms(mu, logvar):
    """Elementwise KL terms -0.5 * (1 + logvar - mu**2 - exp(logvar)), same shape as mu."""
    mu = np.asarray(mu, dtype=np.float64)
    logvar = np.asarray(logvar, dtype=np.float64)
    if mu.shape != logvar.shape:
        raise ValueError(f"mu has shape {mu.shape} but logvar has shape {logvar.shape}")
    if mu.ndim not in (1, 2):
        raise ValueError(f"expected a (latent,) or (batch, latent) input, got shape {mu.shape}")
    return -0.5 * (1.0 + logvar - mu**2 - np.exp(logvar))


def kl_to_standard_normal(mu, logvar):
    """KL divergence from a diagonal Gaussian posterior to the prior N(0, I).

    Use the lesson's closed form of KL(q(z|x) || p(z)) for a diagonal Gaussian
    posterior N(mu, diag sigma**2) and the prior N(0, I): each latent
    dimension j contributes a term built from mu_j**2, the variance sigma_j**2
    and its logarithm logvar_j, and the terms are summed over j. Read the
    signs and the factor in front carefully, and note which quantity the
    formula needs: the variance, not the standard deviation.

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

    The lesson's three posteriors, then two of them as a batch:

    >>> kl_to_standard_normal([0.0, 0.0], [0.0, 0.0])
    0.0
    >>> round(kl_to_standard_normal([0.4, -0.2], [-0.7, 0.1]), 4)
    0.2009
    >>> round(kl_to_standard_normal([2.0, -1.5], [-1.5, 1.2]), 4)
    4.0466
    >>> round(kl_to_standard_normal([[0.4, -0.2], [2.0, -1.5]], [[-0.7, 0.1], [-1.5, 1.2]]), 4)
    2.1238
    """
    terms = _kl_terms(mu, logvar)
    # Sum over latent dimensions; for a batch, average the per-example sums.
    value = terms.sum(axis=-1).mean() if terms.ndim == 2 else terms.sum()
    # KL is never negative, but round-off near mu=0, logvar=0 can give a tiny
    # negative number or -0.0: clip at zero, and + 0.0 turns -0.0 into 0.0.
    return float(np.maximum(value, 0.0)) + 0.0


def kl_per_dimension(mu, logvar):
    """The KL contribution of each latent dimension.

    The same per-dimension terms as ``kl_to_standard_normal``, kept apart
    instead of summed. For a (batch, latent) input, each dimension's value is
    averaged over the batch. The entries sum to
    ``kl_to_standard_normal(mu, logvar)``. This is the signal the
    posterior-collapse monitor watches.

    Args:
        mu: array-like of shape (latent,) or (batch, latent).
        logvar: array-like of the same shape as ``mu``.

    Returns:
        np.ndarray of shape (latent,), never negative and never -0.0.

    Raises:
        ValueError: if ``mu`` and ``logvar`` have different shapes.

    The lesson's "small offset" posterior, one value per dimension:

    >>> per_dim = kl_per_dimension([0.4, -0.2], [-0.7, 0.1])
    >>> np.round(per_dim, 4)
    array([0.1783, 0.0226])
    >>> round(float(per_dim.sum()), 4)
    0.2009
    """
    terms = _kl_terms(mu, logvar)
    per_dim = terms.mean(axis=0) if terms.ndim == 2 else terms
    # Same clipping as the total, per dimension; + 0.0 removes -0.0.
    return np.maximum(per_dim, 0.0) + 0.0
