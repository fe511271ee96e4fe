# expect: correct
import torch
def logvar_to_sigma(logvar):
    return torch.exp(0.5 * torch.as_tensor(logvar, dtype=torch.float64))
