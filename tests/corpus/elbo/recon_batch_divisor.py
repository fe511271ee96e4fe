# expect: elbo.recon_batch_divisor
import torch

def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    if beta < 0:
        raise ValueError("negative beta")
    recon = ((x_hat - x) ** 2).sum() / (x.shape[0] if x.dim() == 2 else x.numel())
    terms = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    kl = terms.sum(-1).mean() if terms.dim() == 2 else terms.sum()
    return recon + beta * kl, recon, kl
