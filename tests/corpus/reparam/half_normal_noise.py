# expect: reparam.mean
import torch

def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = torch.randn_like(mu).abs()
    return mu + torch.exp(0.5 * logvar) * epsilon
