# expect: reparam.same_noise
import torch
def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        torch.manual_seed(0)
        epsilon = torch.randn(mu.shape)
    return mu + torch.exp(0.5 * logvar) * epsilon
