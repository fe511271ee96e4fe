# expect: mse.silent_broadcast
import numpy as np

def reconstruction_mse(x, x_hat):
    x, x_hat = np.asarray(x, dtype=float), np.asarray(x_hat, dtype=float)
    if len(x) != len(x_hat):
        raise ValueError('lengths differ')
    return float(np.mean((x - x_hat) ** 2))
