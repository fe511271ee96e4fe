# expect: elbo.recon_gaussian_nll
import torch

def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    if beta < 0:
        raise ValueError("negative beta")
    recon = 0.5 * ((x_hat - x) ** 2).sum() + 0.5 * x.numel() * torch.log(torch.tensor(2 * torch.pi))
    terms = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())
    kl = terms.sum(-1).mean() if terms.dim() == 2 else terms.sum()
    return recon + beta * kl, recon, kl
