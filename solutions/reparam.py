"""Reference solution for the lesson section "Sample while gradients still flow": the reparameterization trick."""

import torch


def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = torch.randn_like(mu)
    else:
        epsilon = torch.as_tensor(epsilon, dtype=mu.dtype, device=mu.device)
    # All randomness lives in epsilon, a constant during backward, so
    # dz/dmu = 1 and dz/dlogvar = 0.5 * sigma * epsilon. sigma is
    # exp(0.5 * logvar), the standard deviation, not exp(logvar), the variance.
    return mu + torch.exp(0.5 * logvar) * epsilon
