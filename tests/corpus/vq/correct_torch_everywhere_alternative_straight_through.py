# expect: correct
import torch
def _check(z, c):
    if c.dim() != 2 or z.shape[-1] != c.shape[-1]:
        raise ValueError("z_e and codebook disagree on d")
def squared_distances(z_e, codebook):
    z = torch.as_tensor(z_e, dtype=torch.float64)
    c = torch.as_tensor(codebook, dtype=torch.float64)
    _check(z, c)
    return (z.pow(2).sum(-1, keepdim=True) - 2 * z @ c.T + c.pow(2).sum(-1)).numpy()
def nearest_code(z_e, codebook):
    c = torch.as_tensor(codebook, dtype=torch.float64)
    idx = torch.as_tensor(squared_distances(z_e, codebook)).argmin(dim=-1)
    return (int(idx), c[idx].numpy()) if idx.dim() == 0 else (idx.numpy(), c[idx].numpy())
def quantize_straight_through(z_e, codebook):
    _check(z_e, codebook)
    idx = torch.cdist(z_e.detach(), codebook.detach()).argmin(dim=1)
    codes = codebook[idx]
    return codes + (z_e - z_e.detach()), idx
