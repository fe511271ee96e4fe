# expect: reparam.not_normal
import torch

def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = torch.randint_like(mu, 0, 2) * 2 - 1
    return mu + torch.exp(0.5 * logvar) * epsilon
