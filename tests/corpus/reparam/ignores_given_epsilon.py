# expect: reparam.ignores_epsilon
import torch
def reparameterize(mu, logvar, epsilon=None):
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
