# expect: reparam.variance_not_std
import torch
def reparameterize(mu, logvar, epsilon=None):
    eps = torch.randn_like(mu) if epsilon is None else epsilon
    return mu + torch.exp(logvar) * eps
