# expect: reparam.logvar_detached
import torch
def reparameterize(mu, logvar, epsilon=None):
    eps = torch.randn_like(mu) if epsilon is None else epsilon
    return mu + torch.exp(0.5 * logvar.detach()) * eps
