# expect: correct
import torch
from torch.distributions import Normal
def reparameterize(mu, logvar, epsilon=None):
    std = torch.exp(0.5 * logvar)
    if epsilon is None:
        return Normal(mu, std).rsample()
    return mu + std * torch.as_tensor(epsilon, dtype=mu.dtype)
