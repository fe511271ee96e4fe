"""Exercise for the lesson section "Latent models reduce the expensive space": the latent spatial budget.

Fill in the functions below, then run `vaegrade check latent_budget`.
"""


def latent_grid(height, width, downsample):
    """The latent grid after downsampling each spatial axis by ``downsample``.

    (latent_height, latent_width) = (height // downsample, width // downsample)

    Args:
        height, width: the pixel grid, positive integers.
        downsample: the factor applied to each axis, a positive integer.

    Returns:
        A tuple of two ints.

    Raises:
        ValueError: if any argument is not a positive integer, or if height or
            width is not divisible by ``downsample``.

    Example from the lesson:

    >>> latent_grid(512, 512, 8)  # (64, 64)
    """
    # TODO: validate the three arguments (positive integers, sizes divisible by the
    # factor), then shrink each spatial axis by the factor.
    raise NotImplementedError


def spatial_reduction(height, width, downsample):
    """How many times fewer positions the latent grid has than the pixel grid.

    reduction = (height * width) // (latent_height * latent_width), which is
    downsample**2 because both axes shrink.

    Args:
        height, width, downsample: as for ``latent_grid``.

    Returns:
        int.

    Raises:
        ValueError: on the same inputs as ``latent_grid``.

    Example from the lesson:

    >>> spatial_reduction(512, 512, 8)  # 64
    """
    # TODO: reuse latent_grid (so the same inputs are refused) and compare the number
    # of positions before and after.
    raise NotImplementedError
