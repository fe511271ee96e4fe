# expect: sigma.clamped
import numpy as np

def logvar_to_sigma(logvar):
    logvar = np.asarray(logvar, dtype=np.float64)
    return np.exp(0.5 * np.clip(logvar, -10, 10))
