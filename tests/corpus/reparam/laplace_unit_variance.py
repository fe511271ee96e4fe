# expect: reparam.not_normal
import torch

def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = torch.distributions.Laplace(0.0, 0.5 ** 0.5).sample(mu.shape).to(mu.dtype)
    return mu + torch.exp(0.5 * logvar) * epsilon
