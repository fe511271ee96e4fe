# expect: latent_budget.pixel_positions
def _ok(h, w, d):
    if h <= 0 or w <= 0 or d <= 0:
        raise ValueError("sizes must be positive")
    if h % d or w % d:
        raise ValueError("not divisible")

def latent_grid(height, width, downsample):
    _ok(height, width, downsample)
    return height // downsample, width // downsample

def spatial_reduction(height, width, downsample):
    _ok(height, width, downsample)
    return height * width
