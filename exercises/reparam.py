"""Exercise for the lesson section "Sample while gradients still flow": the reparameterization trick.

Fill in the function below, then run `vaegrade check reparam`.
"""

import torch


def reparameterize(mu, logvar, epsilon=None):
    """Draw z ~ N(mu, diag sigma**2) so that gradients still reach mu and logvar.

    The trick moves all the randomness into noise epsilon drawn from the
    standard normal N(0, I), then turns that noise into a sample of the
    posterior: scale it by the posterior's standard deviation (which you get
    from logvar as in ``logvar_to_sigma``) and shift it by the mean. During
    backward, epsilon is a sampled constant, so the loss's gradient reaches
    mu, and through sigma, logvar.

    Args:
        mu: torch.Tensor of any shape, e.g. (latent,) or (batch, latent).
        logvar: torch.Tensor of the same shape as ``mu``.
        epsilon: optional noise of the same shape. When None, draw fresh noise
            with ``torch.randn_like(mu)`` (new noise on every call and for every element).

    Returns:
        torch.Tensor z of the same shape as ``mu``, connected to the autograd
        graph of ``mu`` and ``logvar``. Stay in torch: converting to numpy or
        calling .detach() cuts the gradient path.

    The lesson's worked example, then the gradients it passes back
    (1 for each mean; for logvar, half of sigma times epsilon):

    >>> mu = torch.tensor([0.4, -0.2], requires_grad=True)
    >>> logvar = torch.tensor([-0.7, 0.1], requires_grad=True)
    >>> z = reparameterize(mu, logvar, torch.tensor([0.5, -1.0]))
    >>> [round(v, 3) for v in z.tolist()]
    [0.752, -1.251]
    >>> z.sum().backward()
    >>> mu.grad.tolist(), [round(g, 3) for g in logvar.grad.tolist()]
    ([1.0, 1.0], [0.176, -0.526])
    >>> reparameterize(torch.zeros(3, 2), torch.zeros(3, 2)).shape   # fresh noise
    torch.Size([3, 2])
    """
    # TODO: draw the noise when none is given, turn logvar into a standard deviation,
    # and move from mu by the scaled noise, all in torch so gradients flow.
    raise NotImplementedError
