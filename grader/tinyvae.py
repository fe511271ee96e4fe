"""The lesson's TinyVAE ("Train a tiny VAE"), for checking that a learner's vae_loss trains it.

The trusted process builds the data and the initial weights (numpy only) and
judges the trained weights with its own numpy forward pass; the sandboxed
child runs the training loop with the learner's loss (torch). The optimizer is
Adam written out by hand: it is the same update as ``torch.optim.Adam`` but
avoids the second of start-up that importing ``torch.optim`` costs.
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


class LossProblem(Exception):
    """The learner's loss cannot drive training (wrong return shape, no graph, NaN)."""


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


def train(loss_fn, payload: dict):
    """Child side: train with the learner's loss; return the final weights and a loss log."""
    import torch

    from grader.sandbox.protocol import decode_array

    x = torch.from_numpy(decode_array(payload["patches"]))
    params = [torch.from_numpy(decode_array(w)).requires_grad_(True) for w in payload["weights"]]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    gen = torch.Generator().manual_seed(int(payload["seed"]))
    lr, b1, b2, adam_eps = float(payload["lr"]), 0.9, 0.999, 1e-8
    history = []
    for step in range(1, int(payload["steps"]) + 1):
        w = params
        hidden = torch.tanh(x @ w[0].T + w[1])
        mu, logvar = hidden @ w[2].T + w[3], hidden @ w[4].T + w[5]
        z = mu + torch.exp(0.5 * logvar) * torch.randn(mu.shape, generator=gen)
        x_hat = torch.sigmoid(torch.tanh(z @ w[6].T + w[7]) @ w[8].T + w[9])
        out = loss_fn(x, x_hat, mu, logvar, beta=float(payload["beta"]))
        if not isinstance(out, (tuple, list)) or len(out) != 3:
            raise LossProblem("vae_loss must return a tuple (total, recon, kl)")
        total = out[0]
        if not isinstance(total, torch.Tensor) or not total.requires_grad or total.numel() != 1:
            raise LossProblem("the total loss is not a one-element torch tensor connected to the model, "
                              "so backpropagation cannot train the VAE")
        grads = torch.autograd.grad(total.reshape(()), params, allow_unused=True)
        value = float(total.detach())
        if not np.isfinite(value):
            raise LossProblem(f"the loss became {value} at step {step}")
        if step % 10 == 0 or step == 1:
            history.append((step, value))
        with torch.no_grad():
            for p, g, (m, v) in zip(params, grads, moments):
                if g is None:
                    continue
                m.mul_(b1).add_(g, alpha=1 - b1)
                v.mul_(b2).addcmul_(g, g, value=1 - b2)
                m_hat, v_hat = m / (1 - b1 ** step), v / (1 - b2 ** step)
                p.sub_(lr * m_hat / (v_hat.sqrt() + adam_eps))
    return [p.detach().numpy().copy() for p in params], history
