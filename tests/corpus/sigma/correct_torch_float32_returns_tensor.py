# expect: correct
import torch
def logvar_to_sigma(logvar):
    return (torch.as_tensor(logvar, dtype=torch.float32) / 2).exp()
