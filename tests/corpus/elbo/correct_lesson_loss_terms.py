# expect: correct
import torch.nn.functional as F
def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    if beta < 0:
        raise ValueError(f"beta must be >= 0, got {beta}")
    recon = F.mse_loss(x_hat, x)
    kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(-1)
    kl = kl.mean() if kl.dim() == 1 else kl
    return recon + beta * kl, recon, kl
