# expect: reparam.mu_detached
import torch

def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = torch.randn_like(mu)
    return mu.detach() + torch.exp(0.5 * logvar) * epsilon
