# expect: correct
import torch
def reparameterize(mu, logvar, epsilon=None):
    if epsilon is None:
        epsilon = torch.randn(mu.shape)
    parts = [m + torch.exp(0.5 * l) * e for m, l, e in
             zip(mu.reshape(-1), logvar.reshape(-1), epsilon.reshape(-1))]
    return torch.stack(parts).reshape(mu.shape)
