# expect: correct
import torch
def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = torch.empty_like(mu).normal_()
    return mu + torch.sqrt(torch.exp(logvar)) * epsilon
