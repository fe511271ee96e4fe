"""Reference solution for the lesson section "Latent models reduce the expensive space": the latent spatial budget."""

import operator


def _positive_int(name, value):
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    try:
        value = operator.index(value)  # accepts int and numpy integers, refuses floats
    except TypeError:
        raise ValueError(f"{name} must be a positive integer, got {value!r}") from None
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return value


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
    height = _positive_int("height", height)
    width = _positive_int("width", width)
    downsample = _positive_int("downsample", downsample)
    for name, size in (("height", height), ("width", width)):
        if size % downsample:
            raise ValueError(f"{name} {size} is not divisible by downsample {downsample}")
    return height // downsample, width // downsample


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
    latent_height, latent_width = latent_grid(height, width, downsample)
    # Both axes shrink, so positions shrink by downsample**2 (64 for a factor of 8).
    return (int(height) * int(width)) // (latent_height * latent_width)
