# expect: correct
import torch
def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    if beta < 0:
        raise ValueError("beta must not be negative")
    recon = ((x_hat.double() - x.double()) ** 2).sum() / x.numel()
    rows = mu.reshape(-1, mu.shape[-1]).double(), logvar.reshape(-1, logvar.shape[-1]).double()
    per_example = [-0.5 * torch.sum(1 + lv - m * m - torch.exp(lv)) for m, lv in zip(*rows)]
    kl = torch.stack(per_example).mean()
    return recon + beta * kl, recon, kl
