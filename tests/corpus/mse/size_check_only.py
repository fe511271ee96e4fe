# expect: mse.silent_broadcast
import numpy as np

def reconstruction_mse(x, x_hat):
    x, x_hat = np.asarray(x, dtype=float), np.asarray(x_hat, dtype=float)
    if x.size != x_hat.size:
        raise ValueError('sizes differ')
    return float(np.mean((x - x_hat) ** 2))
