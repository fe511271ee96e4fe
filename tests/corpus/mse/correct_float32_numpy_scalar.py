# expect: correct
import numpy as np

def reconstruction_mse(x, x_hat):
    x, x_hat = np.asarray(x, np.float32), np.asarray(x_hat, np.float32)
    if x.shape != x_hat.shape:
        raise ValueError("shape mismatch")
    return np.square(x - x_hat).mean()          # np.float32
