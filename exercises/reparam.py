"""Exercise for the lesson section "Sample while gradients still flow": the reparameterization trick.

Fill in the function below, then run `vaegrade check reparam`.
"""

import torch


def reparameterize(mu, logvar, epsilon=None):
    """Draw z ~ N(mu, diag sigma**2) so that gradients still reach mu and logvar.

    z = mu + sigma * epsilon, with sigma = exp(0.5 * logvar) and epsilon ~ N(0, I).
    All randomness lives in epsilon, a constant during backward, so
    dz/dmu = 1 and dz/dlogvar = 0.5 * sigma * epsilon.

    Args:
        mu: torch.Tensor of any shape, e.g. (latent,) or (batch, latent).
        logvar: torch.Tensor of the same shape as ``mu``.
        epsilon: optional noise of the same shape. When None, draw fresh noise
            with ``torch.randn_like(mu)`` (new noise on every call and for every element).

    Returns:
        torch.Tensor z of the same shape as ``mu``, connected to the autograd
        graph of ``mu`` and ``logvar``. Stay in torch: converting to numpy or
        calling .detach() cuts the gradient path.

    Example from the lesson:

    >>> reparameterize(torch.tensor([0.4, -0.2]), torch.tensor([-0.7, 0.1]),
    ...                torch.tensor([0.5, -1.0]))  # tensor([0.752, -1.251]) (rounded)
    """
    # TODO: draw the noise when none is given, turn logvar into a standard deviation,
    # and move from mu by the scaled noise, all in torch so gradients flow.
    raise NotImplementedError
