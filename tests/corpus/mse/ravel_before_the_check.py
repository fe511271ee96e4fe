# expect: mse.silent_broadcast
import numpy as np

def reconstruction_mse(x, x_hat):
    x, x_hat = np.asarray(x, dtype=float), np.asarray(x_hat, dtype=float)
    x, x_hat = x.ravel(), x_hat.ravel()
    if x.shape != x_hat.shape:
        raise ValueError('shapes differ')
    return float(np.mean((x - x_hat) ** 2))
