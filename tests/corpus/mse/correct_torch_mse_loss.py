# expect: correct
import torch
import torch.nn.functional as F

def reconstruction_mse(x, x_hat):
    x, x_hat = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(x_hat, dtype=torch.float64)
    if x.shape != x_hat.shape:
        raise ValueError(f"{tuple(x.shape)} vs {tuple(x_hat.shape)}")
    return F.mse_loss(x_hat, x).item()
