# expect: reparam.logvar_as_scale
import torch

def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = torch.randn_like(mu)
    return mu + logvar * epsilon
