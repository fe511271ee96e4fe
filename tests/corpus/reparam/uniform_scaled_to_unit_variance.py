# expect: reparam.not_normal
import torch

def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = (torch.rand_like(mu) - 0.5) * 12 ** 0.5
    return mu + torch.exp(0.5 * logvar) * epsilon
