# expect: reparam.not_normal
import torch

def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = torch.distributions.StudentT(5.0).sample(mu.shape).to(mu.dtype) * (3.0 / 5.0) ** 0.5
    return mu + torch.exp(0.5 * logvar) * epsilon
