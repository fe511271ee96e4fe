"""Reference solution for the lesson section "The VAE objective": the β-weighted VAE loss with an MSE reconstruction term."""

import torch


def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    """The beta-weighted VAE loss with an MSE reconstruction term: L_VAE = L_recon + beta * D_KL.

    This is the loss the lesson minimizes in code, written in the form of
    the negative ELBO with the reconstruction term measured by MSE. The
    lesson's caveat: MSE is proportional to a Gaussian decoder's negative
    log-likelihood only after choosing a fixed observation variance, so the
    scale of MSE against KL is a modeling choice, and this loss is not the
    ELBO itself.

    - recon: the mean squared error over all elements, as in ``mse.py``;
    - kl: the KL to N(0, I) of ``kl.py``, summed over the latent (last) axis;
      for a (batch, latent) input, the batch mean of the per-example sums;
    - total: recon plus beta times kl (beta weights the KL term only).

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

    The lesson's ledger (beta = 0.1, then beta = 0, reconstruction only):

    >>> x = torch.tensor([0.10, 0.90, 0.85, 0.12])
    >>> x_hat = torch.tensor([0.12, 0.84, 0.80, 0.14])
    >>> mu, logvar = torch.tensor([0.40, -0.20]), torch.tensor([-0.70, 0.10])
    >>> total, recon, kl = vae_loss(x, x_hat, mu, logvar, beta=0.1)
    >>> [round(t.item(), 4) for t in (total, recon, kl)]
    [0.0218, 0.0017, 0.2009]
    >>> round(vae_loss(x, x_hat, mu, logvar, beta=0.0)[0].item(), 4)
    0.0017
    """
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got {beta}")
    recon = torch.mean((x_hat - x) ** 2)
    terms = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    # Sum over latent dimensions; for a batch, average the per-example sums.
    kl = terms.sum(dim=-1).mean() if terms.dim() == 2 else terms.sum()
    # Return both terms as well as the total: the total alone hides which side dominates.
    return recon + beta * kl, recon, kl
