# expect: sigma.clamped
import numpy as np
def logvar_to_sigma(logvar):
    return np.exp(0.5 * np.clip(np.asarray(logvar, dtype=float), -10, 10))
