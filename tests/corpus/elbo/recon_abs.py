# expect: elbo.recon_abs
import torch

def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    if beta < 0:
        raise ValueError("negative beta")
    recon = torch.mean(torch.abs(x_hat - x))
    terms = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    kl = terms.sum(-1).mean() if terms.dim() == 2 else terms.sum()
    return recon + beta * kl, recon, kl
