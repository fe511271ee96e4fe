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
    terms = _kl_terms(mu, logvar)
    # Sum over latent dimensions; for a batch, average the per-example sums.
    value = terms.sum(axis=-1).mean() if terms.ndim == 2 else terms.sum()
    # KL is never negative, but round-off near mu=0, logvar=0 can give a tiny
    # negative number or -0.0: clip at zero, and + 0.0 turns -0.0 into 0.0.
    return float(np.maximum(value, 0.0)) + 0.0


def kl_per_dimension(mu, logvar):
    terms = _kl_terms(mu, logvar)
    per_dim = terms.mean(axis=0) if terms.ndim == 2 else terms
    # Same clipping as the total, per dimension; + 0.0 removes -0.0.
    return np.maximum(per_dim, 0.0) + 0.0
