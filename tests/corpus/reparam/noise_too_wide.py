# expect: reparam.spread
import torch
def reparameterize(mu, logvar, epsilon=None):
    eps = 2 * torch.randn_like(mu) if epsilon is None else epsilon
    return mu + torch.exp(0.5 * logvar) * eps
