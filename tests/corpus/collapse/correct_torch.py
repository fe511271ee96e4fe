# expect: correct
import torch

def _kl(kl_per_dim):
    kl = torch.as_tensor(kl_per_dim, dtype=torch.float64)
    if kl.numel() == 0:
        raise ValueError("empty KL vector")
    return kl

def is_collapsed(kl_per_dim, threshold=1e-3):
    return torch.all(_kl(kl_per_dim) < threshold)          # a 0-d bool tensor

def active_dimensions(kl_per_dim, threshold=1e-3):
    return torch.nonzero(_kl(kl_per_dim) >= threshold).flatten().tolist()
