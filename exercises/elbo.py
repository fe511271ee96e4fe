"""Exercise for the lesson section "The VAE objective": the negative ELBO loss.

Fill in the function below, then run `vaegrade check elbo`.
"""

import torch


def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    """The beta-weighted negative ELBO: L_VAE = L_recon + beta * D_KL.

    recon = mean over all elements of (x_hat - x)**2
    kl    = -0.5 * sum_j (1 + logvar_j - mu_j**2 - exp(logvar_j)), summed over the
            latent (last) axis; for a (batch, latent) input, the batch mean of
            those per-example sums; for a 1-D input, just the sum
    total = recon + beta * kl

    Args:
        x: torch.Tensor, the input patches, e.g. (batch, 25).
        x_hat: torch.Tensor of the same shape, the decoder's reconstruction.
        mu, logvar: torch.Tensor of shape (latent,) or (batch, latent).
        beta: Python float >= 0, the weight of the KL term.

    Returns:
        (total, recon, kl), three 0-dim torch tensors that backpropagate, so
        ``total.backward()`` can train a model. Return the terms separately:
        the total alone hides which side dominates.

    Raises:
        ValueError: if ``beta`` is negative.

    Example from the lesson's ledger (x=[0.10, 0.90, 0.85, 0.12],
    x_hat=[0.12, 0.84, 0.80, 0.14], mu=[0.40, -0.20], logvar=[-0.70, 0.10]):

    >>> vae_loss(x, x_hat, mu, logvar, beta=0.1)  # total=0.0218, recon=0.0017, kl=0.2009 (rounded)
    """
    # TODO: reject a negative beta; compute the two terms with torch operations only
    # (numpy or .item() would cut the graph), then combine them with beta.
    raise NotImplementedError
