# expect: correct
import torch

def _terms(mu, logvar):
    mu = torch.as_tensor(mu, dtype=torch.float32)
    logvar = torch.as_tensor(logvar, dtype=torch.float32)
    if mu.shape != logvar.shape:
        raise ValueError(f"{tuple(mu.shape)} != {tuple(logvar.shape)}")
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp())

def kl_to_standard_normal(mu, logvar):
    t = _terms(mu, logvar)
    total = t.sum(-1).mean() if t.dim() == 2 else t.sum()
    return total.clamp(min=0.0).item() + 0.0

def kl_per_dimension(mu, logvar):
    t = _terms(mu, logvar)
    per_dim = t.mean(0) if t.dim() == 2 else t
    return per_dim.clamp(min=0.0) + 0.0
