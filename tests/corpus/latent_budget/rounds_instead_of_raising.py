# expect: latent_budget.rounds_instead_of_raising
def _validate(height, width, downsample):
    if min(height, width, downsample) <= 0:
        raise ValueError('sizes must be positive')

def latent_grid(height, width, downsample):
    _validate(height, width, downsample)
    return (round(height / downsample), round(width / downsample))

def spatial_reduction(height, width, downsample):
    _validate(height, width, downsample)
    latent_height, latent_width = height // downsample, width // downsample
    return (height * width) // (latent_height * latent_width)
