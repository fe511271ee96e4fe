# expect: sigma.sqrt_logvar
import numpy as np
def logvar_to_sigma(logvar):
    return np.sqrt(np.asarray(logvar, dtype=float))
