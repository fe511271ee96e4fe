# expect: reparam.epsilon_ignored
def reparameterize(mu, logvar, epsilon=None):
    return mu * 1.0
