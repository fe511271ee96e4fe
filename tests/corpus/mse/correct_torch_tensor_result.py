# expect: correct
import torch

def reconstruction_mse(x, x_hat):
    x, x_hat = torch.as_tensor(x), torch.as_tensor(x_hat)
    if x.shape != x_hat.shape:
        raise ValueError("shape mismatch")
    return ((x - x_hat) ** 2).mean()            # a 0-d tensor
