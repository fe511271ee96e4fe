# expect: correct
import numpy as np

def latent_grid(height, width, downsample):
    size = np.array([height, width], dtype=np.int64)
    if downsample < 1 or np.any(size < 1) or np.any(size % downsample):
        raise ValueError(f"cannot downsample {height}x{width} by {downsample}")
    latent = size // downsample
    return latent[0], latent[1]                       # np.int64 values

def spatial_reduction(height, width, downsample):
    latent_grid(height, width, downsample)
    return np.int64(downsample) ** 2                  # both axes shrink
