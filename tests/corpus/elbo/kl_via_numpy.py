# expect: torch.no_grad_path
import numpy as np
import torch
def vae_loss(x, x_hat, mu, logvar, beta=1.0):
    if beta < 0:
        raise ValueError("negative beta")
    recon = torch.mean((x_hat - x) ** 2)
    m, lv = mu.detach().numpy(), logvar.detach().numpy()
    kl = torch.tensor(float(np.mean(np.atleast_2d(-0.5 * (1 + lv - m ** 2 - np.exp(lv))).sum(-1))))
    return recon + beta * kl, recon, kl
