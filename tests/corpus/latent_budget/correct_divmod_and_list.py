# expect: correct
def latent_grid(height, width, downsample):
    if downsample <= 0 or height <= 0 or width <= 0:
        raise ValueError("arguments must be positive")
    lh, rh = divmod(height, downsample)
    lw, rw = divmod(width, downsample)
    if rh or rw:
        raise ValueError("downsample must divide height and width")
    return [lh, lw]

def spatial_reduction(height, width, downsample):
    lh, lw = latent_grid(height, width, downsample)
    return height * width // (lh * lw)
