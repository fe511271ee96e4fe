# expect: sigma.exp_logvar_half_sq
import numpy as np

def logvar_to_sigma(logvar):
    logvar = np.asarray(logvar, dtype=np.float64)
    return np.exp(logvar) ** 2
