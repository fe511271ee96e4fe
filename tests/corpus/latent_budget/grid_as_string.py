# expect: latent_budget.not_grid
def _ok(h, w, d):
    if h <= 0 or w <= 0 or d <= 0:
        raise ValueError("sizes must be positive")
    if h % d or w % d:
        raise ValueError("not divisible")

def latent_grid(height, width, downsample):
    _ok(height, width, downsample)
    return f'{height // downsample}x{width // downsample}'

def spatial_reduction(height, width, downsample):
    _ok(height, width, downsample)
    return downsample ** 2
