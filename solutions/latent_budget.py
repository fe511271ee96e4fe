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
    height = _positive_int("height", height)
    width = _positive_int("width", width)
    downsample = _positive_int("downsample", downsample)
    for name, size in (("height", height), ("width", width)):
        if size % downsample:
            raise ValueError(f"{name} {size} is not divisible by downsample {downsample}")
    return height // downsample, width // downsample


def spatial_reduction(height, width, downsample):
    latent_height, latent_width = latent_grid(height, width, downsample)
    # Both axes shrink, so positions shrink by downsample**2 (64 for a factor of 8).
    return (int(height) * int(width)) // (latent_height * latent_width)
