# expect: elbo.negative_beta
import torch
def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    recon = torch.mean((x_hat - x) ** 2)
    terms = -0.5 * (1 + logvar - mu ** 2 - logvar.exp())
    kl = terms.sum(-1).mean() if terms.dim() == 2 else terms.sum()
    return recon + beta * kl, recon, kl
