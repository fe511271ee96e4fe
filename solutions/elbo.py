"""Reference solution for the lesson section "The VAE objective": the β-weighted VAE loss with an MSE reconstruction term."""

import torch


def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got {beta}")
    recon = torch.mean((x_hat - x) ** 2)
    terms = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    # Sum over latent dimensions; for a batch, average the per-example sums.
    kl = terms.sum(dim=-1).mean() if terms.dim() == 2 else terms.sum()
    # Return both terms as well as the total: the total alone hides which side dominates.
    return recon + beta * kl, recon, kl
