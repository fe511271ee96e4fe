# expect: elbo.kl_batch_sum
import torch
def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    if beta < 0:
        raise ValueError("beta must be non-negative")
    recon = torch.mean((x_hat - x) ** 2)
    terms = -0.5 * (1 + logvar - mu ** 2 - logvar.exp())
    kl = terms.sum()
    return recon + beta * kl, recon, kl
