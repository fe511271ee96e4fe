# expect: sigma.log_sigma
import numpy as np

def logvar_to_sigma(logvar):
    logvar = np.asarray(logvar, dtype=np.float64)
    return logvar / 2
