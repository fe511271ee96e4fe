# expect: correct
def is_collapsed(kl_per_dim, threshold=1e-3):
    values = list(kl_per_dim)
    if not values:
        raise ValueError("no latent dimensions")
    for v in values:
        if not v < threshold:
            return False
    return True

def active_dimensions(kl_per_dim, threshold=1e-3):
    values = list(kl_per_dim)
    if len(values) == 0:
        raise ValueError("no latent dimensions")
    active = []
    for i, v in enumerate(values):
        if v >= threshold:
            active.append(i)
    return active
