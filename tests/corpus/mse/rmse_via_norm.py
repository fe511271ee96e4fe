# expect: mse.rmse
import numpy as np

def reconstruction_mse(x, x_hat):
    x, x_hat = np.asarray(x, dtype=float), np.asarray(x_hat, dtype=float)
    if x.shape != x_hat.shape:
        raise ValueError('shapes differ')
    return float(np.linalg.norm(x - x_hat) / np.sqrt(x.size))
