def logvar_to_sigma(logvar:
    return 1
