# expect: correct
import math

def latent_grid(height, width, downsample):
    for name, value in (("height", height), ("width", width), ("downsample", downsample)):
        if value <= 0:
            raise ValueError(f"{name} must be positive")
    if height % downsample != 0 or width % downsample != 0:
        raise ValueError("not divisible")
    return int(height / downsample), int(width / downsample)

def spatial_reduction(height, width, downsample):
    h, w = latent_grid(height, width, downsample)
    return int(math.prod((height, width)) / (h * w))
