# expect: reparam.grad_missing_half
import torch

def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * epsilon + torch.exp(0.5 * logvar) * epsilon * 0.5 * (logvar - logvar.detach())
