# expect: latent_budget.zero_division
def _validate(height, width, downsample):
    if height % downsample or width % downsample:
        raise ValueError('not divisible')

def latent_grid(height, width, downsample):
    _validate(height, width, downsample)
    return (height // downsample, width // downsample)

def spatial_reduction(height, width, downsample):
    _validate(height, width, downsample)
    latent_height, latent_width = height // downsample, width // downsample
    return (height * width) // (latent_height * latent_width)
