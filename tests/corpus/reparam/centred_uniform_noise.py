# expect: reparam.uniform_noise
import torch
def reparameterize(mu, logvar, epsilon=None):
    eps = torch.rand_like(mu) - 0.5 if epsilon is None else epsilon
    return mu + torch.exp(0.5 * logvar) * eps
