"""The lesson's TinyVAE ("Train a tiny VAE"), for checking that a learner's vae_loss trains it.

Everything here runs in the trusted process, in numpy: the data, the initial
weights, the forward and backward passes, Adam (the same update as
``torch.optim.Adam``) and the judgement of the trained weights. The learner's
``vae_loss`` enters only through ``loss_and_grads``: each step the sandbox
evaluates it on (x, x_hat, mu, logvar) and returns its gradients, so a
submission cannot swap in a training loop of its own.
"""

from __future__ import annotations

import numpy as np

CENTER_MARK = [0.05, 0.10, 0.08, 0.10, 0.06, 0.12, 0.88, 0.86, 0.13, 0.08, 0.10, 0.91, 0.90,
               0.12, 0.07, 0.06, 0.15, 0.14, 0.10, 0.06, 0.05, 0.08, 0.08, 0.05, 0.04]
LOWER_MARK = [0.04, 0.07, 0.06, 0.08, 0.05, 0.10, 0.15, 0.12, 0.10, 0.06, 0.08, 0.18, 0.16,
              0.09, 0.06, 0.06, 0.84, 0.88, 0.11, 0.07, 0.04, 0.07, 0.08, 0.05, 0.04]
# (out, in) of each nn.Linear, in the lesson's order: encoder, mu, logvar, decoder 1, decoder 2.
LAYERS = [(12, 25), (2, 12), (2, 12), (12, 2), (25, 12)]
LR, BETA = 0.03, 0.02


def make_patches(rng: np.random.Generator, per_family: int = 32) -> np.ndarray:
    """The lesson's two patch families: bright centre cells and bright lower cells, with noise."""
    families = [np.clip(np.asarray(mark) + 0.02 * rng.standard_normal((per_family, 25)), 0.0, 1.0)
                for mark in (CENTER_MARK, LOWER_MARK)]
    return np.concatenate(families).astype(np.float32)


def init_weights(rng: np.random.Generator) -> list[np.ndarray]:
    """nn.Linear's default initialisation: U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weight and bias."""
    weights = []
    for out, fan_in in LAYERS:
        bound = 1.0 / np.sqrt(fan_in)
        weights.append(rng.uniform(-bound, bound, (out, fan_in)).astype(np.float32))
        weights.append(rng.uniform(-bound, bound, out).astype(np.float32))
    return weights


def reconstruction_error(weights: list[np.ndarray], patches: np.ndarray, eps: np.ndarray) -> float:
    """Trusted numpy forward pass: MSE of the reconstruction through a sampled z (eps given)."""
    w = [np.asarray(a, dtype=np.float64) for a in weights]
    x = np.asarray(patches, dtype=np.float64)
    hidden = np.tanh(x @ w[0].T + w[1])
    mu, logvar = hidden @ w[2].T + w[3], hidden @ w[4].T + w[5]
    z = mu + np.exp(0.5 * np.clip(logvar, -50, 50)) * eps
    x_hat = 1.0 / (1.0 + np.exp(-(np.tanh(z @ w[6].T + w[7]) @ w[8].T + w[9])))
    return float(np.mean((x_hat - x) ** 2))


def train(loss_and_grads, x: np.ndarray, weights: list[np.ndarray], *, steps: int, lr: float,
          beta: float, seed: int) -> tuple[list[np.ndarray], list[tuple[int, float]]]:
    """Adam on the TinyVAE; loss_and_grads(x, x_hat, mu, logvar, beta, step) -> (loss, (dL/dx_hat, dL/dmu, dL/dlogvar))."""
    x = np.asarray(x, dtype=np.float64)
    # Every parameter is a view into one flat vector, so each Adam update is a handful of numpy
    # operations on that vector instead of as many per layer (the same arithmetic, element by element).
    flat = np.concatenate([np.asarray(w, dtype=np.float64).ravel() for w in weights])
    params, start = [], 0
    for w in weights:
        params.append(flat[start:start + np.size(w)].reshape(np.shape(w)))
        start += np.size(w)
    m, v = np.zeros_like(flat), np.zeros_like(flat)
    noise = np.random.default_rng(seed)
    b1, b2, adam_eps = 0.9, 0.999, 1e-8
    history = []
    with np.errstate(all="ignore"):
        for step in range(1, steps + 1):
            w = params
            hidden = np.tanh(x @ w[0].T + w[1])
            mu, logvar = hidden @ w[2].T + w[3], hidden @ w[4].T + w[5]
            eps = noise.standard_normal(mu.shape)
            std = np.exp(0.5 * logvar)
            z = mu + std * eps
            dec = np.tanh(z @ w[6].T + w[7])
            x_hat = 1.0 / (1.0 + np.exp(-(dec @ w[8].T + w[9])))
            value, (g_xhat, g_mu, g_logvar) = loss_and_grads(x, x_hat, mu, logvar, beta, step)
            if step % 10 == 0 or step == 1:
                history.append((step, value))
            # Backpropagate the learner's gradients through the decoder, the sample and the encoder.
            g_a8 = g_xhat * x_hat * (1.0 - x_hat)
            g_a6 = (g_a8 @ w[8]) * (1.0 - dec ** 2)
            g_z = g_a6 @ w[6]
            g_mu, g_logvar = g_mu + g_z, g_logvar + g_z * eps * 0.5 * std
            g_a0 = (g_mu @ w[2] + g_logvar @ w[4]) * (1.0 - hidden ** 2)
            grads = [g_a0.T @ x, g_a0.sum(0), g_mu.T @ hidden, g_mu.sum(0), g_logvar.T @ hidden,
                     g_logvar.sum(0), g_a6.T @ z, g_a6.sum(0), g_a8.T @ dec, g_a8.sum(0)]
            g = np.concatenate([a.ravel() for a in grads])
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            flat -= lr * (m / (1 - b1 ** step)) / (np.sqrt(v / (1 - b2 ** step)) + adam_eps)
    return [p.astype(np.float32) for p in params], history
