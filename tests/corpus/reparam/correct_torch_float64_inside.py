# expect: correct
import torch
def reparameterize(mu, logvar, epsilon=None):
    eps = torch.randn_like(mu) if epsilon is None else epsilon
    z = mu.double() + torch.exp(logvar.double() / 2) * eps.double()
    return z.to(mu.dtype)
