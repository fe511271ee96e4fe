# expect: sigma.inverse
import numpy as np
def logvar_to_sigma(logvar):
    return np.exp(-0.5 * np.asarray(logvar, dtype=float))
