# expect: latent_budget.doubled_not_squared
def _validate(height, width, downsample):
    if min(height, width, downsample) <= 0 or height % downsample or width % downsample:
        raise ValueError('sizes must be positive multiples of downsample')

def latent_grid(height, width, downsample):
    _validate(height, width, downsample)
    return (height // downsample, width // downsample)

def spatial_reduction(height, width, downsample):
    _validate(height, width, downsample)
    latent_height, latent_width = height // downsample, width // downsample
    return 2 * downsample
