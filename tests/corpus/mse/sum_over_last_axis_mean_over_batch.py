# expect: mse.batch_size_divisor
import numpy as np

def reconstruction_mse(x, x_hat):
    x, x_hat = np.asarray(x, dtype=float), np.asarray(x_hat, dtype=float)
    if x.shape != x_hat.shape:
        raise ValueError('shapes differ')
    sq = (x - x_hat) ** 2
    return float(sq.sum(axis=-1).mean()) if sq.ndim == 2 else float(sq.mean())
