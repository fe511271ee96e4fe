# expect: shape
import numpy as np

def logvar_to_sigma(logvar):
    logvar = np.asarray(logvar, dtype=np.float64)
    return np.exp(0.5 * logvar.reshape(-1)) if logvar.ndim > 1 else np.exp(0.5 * logvar)
