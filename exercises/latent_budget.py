"""Exercise for the lesson section "Latent models reduce the expensive space": the latent spatial budget.

Fill in the functions below, then run `vaegrade check latent_budget`.
"""


def latent_grid(height, width, downsample):
    """The latent grid after downsampling each spatial axis by ``downsample``.

    Each spatial axis shrinks by the factor on its own: the height by
    ``downsample`` and the width by ``downsample``.

    Args:
        height, width: the pixel grid, positive integers.
        downsample: the factor applied to each axis, a positive integer.

    Returns:
        (latent_height, latent_width), two ints.

    Raises:
        ValueError: if any argument is zero or negative, or if height or
            width is not divisible by ``downsample``.

    The lesson's example, then a width the factor does not divide:

    >>> latent_grid(512, 512, 8)
    (64, 64)
    >>> latent_grid(512, 500, 8)  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ValueError: width 500 is not divisible by downsample 8
    """
    # TODO: validate the three arguments (positive, sizes divisible by the
    # factor), then shrink each spatial axis by the factor.
    raise NotImplementedError


def spatial_reduction(height, width, downsample):
    """How many times fewer positions the latent grid has than the pixel grid.

    Count the positions of both grids (height times width) and compare them.
    Both axes shrink, so the positions shrink by more than the factor itself.

    Args:
        height, width, downsample: as for ``latent_grid``.

    Returns:
        int.

    Raises:
        ValueError: on the same inputs as ``latent_grid``.

    The lesson's example (262,144 pixel positions, 4,096 latent positions),
    then a 64 by 32 image downsampled by 4 (a 16 by 8 latent grid):

    >>> spatial_reduction(512, 512, 8)
    64
    >>> spatial_reduction(64, 32, 4)
    16
    """
    # TODO: reuse latent_grid (so the same inputs are refused) and compare the number
    # of positions before and after.
    raise NotImplementedError
