# expect: correct
import torch
from torch.distributions import Normal, kl_divergence
def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    if beta < 0:
        raise ValueError("negative beta")
    recon = torch.nn.MSELoss()(x_hat, x)
    q = Normal(mu, torch.exp(0.5 * logvar))
    p = Normal(torch.zeros_like(mu), torch.ones_like(mu))
    kl = kl_divergence(q, p).sum(dim=-1)
    if kl.dim() == 1:
        kl = kl.mean()
    return recon + beta * kl, recon, kl
