# expect: mse.per_example
import numpy as np

def reconstruction_mse(x, x_hat):
    x = np.asarray(x, dtype=float)
    x_hat = np.asarray(x_hat, dtype=float)
    if x.shape != x_hat.shape: raise ValueError("shapes differ")
    return np.mean((x - x_hat) ** 2, axis=-1)
