# expect: reparam.shared_noise
import torch
def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = torch.randn(1)
    return mu + torch.exp(0.5 * logvar) * epsilon
