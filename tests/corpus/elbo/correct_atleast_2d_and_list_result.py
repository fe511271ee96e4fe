# expect: correct
import torch
def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    if not beta >= 0:
        raise ValueError("beta must be non-negative")
    recon = (x_hat - x).pow(2).mean()
    mu2, lv2 = torch.atleast_2d(mu), torch.atleast_2d(logvar)
    kl = 0.5 * (mu2 ** 2 + lv2.exp() - 1 - lv2).sum(dim=1).mean()
    return [recon + kl * beta, recon, kl]
