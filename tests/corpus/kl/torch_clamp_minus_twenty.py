# expect: kl.clamped
import torch

def _terms(mu, logvar):
    mu, logvar = torch.as_tensor(mu, dtype=torch.float64), torch.as_tensor(logvar, dtype=torch.float64)
    if mu.shape != logvar.shape:
        raise ValueError("shapes differ")
    logvar = logvar.clamp(-20.0, 20.0)
    return -0.5 * (1 + logvar - mu**2 - logvar.exp())

def kl_to_standard_normal(mu, logvar):
    t = _terms(mu, logvar)
    value = t.sum(-1).mean() if t.dim() == 2 else t.sum()
    return max(float(value), 0.0) + 0.0

def kl_per_dimension(mu, logvar):
    t = _terms(mu, logvar)
    return (t.mean(0) if t.dim() == 2 else t).clamp(min=0.0).numpy() + 0.0
