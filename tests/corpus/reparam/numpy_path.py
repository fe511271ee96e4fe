# expect: torch.no_grad_path
import numpy as np
import torch
def reparameterize(mu, logvar, epsilon=None):
    m, lv = mu.detach().numpy(), logvar.detach().numpy()
    eps = np.random.standard_normal(m.shape) if epsilon is None else epsilon.numpy()
    return torch.tensor(m + np.exp(0.5 * lv) * eps)
