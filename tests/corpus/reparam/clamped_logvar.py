# expect: reparam.clamped
import torch

def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar.clamp(-10, 10)) * epsilon
