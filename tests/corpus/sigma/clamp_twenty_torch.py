# expect: sigma.clamped
import torch

def logvar_to_sigma(logvar):
    lv = torch.as_tensor(logvar, dtype=torch.float64).clamp(-20.0, 20.0)
    return torch.exp(0.5 * lv).numpy()
