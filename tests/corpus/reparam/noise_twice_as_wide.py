# expect: reparam.spread
import torch

def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = 2 * torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * epsilon
