"""The vq checks: the reference earns full marks, the stub nothing, each slip loses points and is
named, and correct code in other styles earns full marks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from concept_helpers import assert_loses_points_and_names, concept_graders

from grader.checks import vq

ROOT = Path(__file__).resolve().parent.parent
CONCEPT, FILE = "vq", "vq.py"
REFERENCE = (ROOT / "solutions" / FILE).read_text()


grade, grade_source = concept_graders(CONCEPT)


def test_lesson_numbers():
    assert np.allclose(vq.distances(vq.Z_E, vq.CODEBOOK), [2.4004, 0.0074, 1.3844])


def test_tie_cases_are_exact_ties_with_a_lower_winner():
    for seed in range(50):
        (z_dup, dup), (z_half, half) = vq.tie_case(np.random.default_rng(seed))
        for z, book in ((z_dup, dup), (z_half, half)):
            d = vq.distances(z, book)
            winners = np.flatnonzero(d == d.min())
            assert len(winners) == 2 and np.argmin(d) == winners[0]


def patched(old: str, new: str) -> str:
    """The reference solution with one slip."""
    assert old in REFERENCE, old
    return REFERENCE.replace(old, new)


WRONG = {
    "argmax": (patched("indices = np.argmin(distances, axis=-1)", "indices = np.argmax(distances, axis=-1)"),
               "vq.argmax", "not the argmax"),
    "euclidean_distance": (patched("return ((z_e[..., None, :] - codebook) ** 2).sum(axis=-1)",
                                   "return np.sqrt(((z_e[..., None, :] - codebook) ** 2).sum(axis=-1))"),
                           "vq.euclidean_not_squared", "SQUARED distances"),
    "index_as_float": (patched("return int(indices), codebook[indices].copy()",
                               "return float(indices), codebook[indices].copy()"),
                       "vq.index_float", "integer ID"),
    "no_straight_through": (patched("z_q = z_e + (codes - z_e).detach()", "z_q = codes"),
                            "vq.no_straight_through", "VQ lookup is not differentiable"),
    "reversed_gradient": (patched("z_q = z_e + (codes - z_e).detach()", "z_q = (codes + z_e).detach() - z_e"),
                          "vq.reversed_gradient", "NEGATIVE identity"),
    "codes_by_inputs": ("""
        import numpy as np
        def squared_distances(z_e, codebook):
            z_e, codebook = np.asarray(z_e, dtype=float), np.asarray(codebook, dtype=float)
            if z_e.shape[-1] != codebook.shape[-1]:
                raise ValueError("d differs")
            return ((codebook[:, None, :] - z_e) ** 2).sum(axis=-1)
        """, "vq.wrong_axis", "one row per encoder output"),
    "sum_over_codes": ("""
        import numpy as np
        def squared_distances(z_e, codebook):
            z_e, codebook = np.asarray(z_e, dtype=float), np.asarray(codebook, dtype=float)
            if z_e.shape[-1] != codebook.shape[-1]:
                raise ValueError("d differs")
            return ((codebook - z_e) ** 2).sum(axis=0)
        """, "vq.wrong_axis", "sums over the codes"),
    "ties_to_the_last_index": ("""
        import numpy as np
        def nearest_code(z_e, codebook):
            z_e, codebook = np.asarray(z_e, dtype=float), np.asarray(codebook, dtype=float)
            if z_e.shape[-1] != codebook.shape[-1]:
                raise ValueError("d differs")
            def one(z):
                best, best_d = 0, float("inf")
                for k, code in enumerate(codebook):
                    d = float(((z - code) ** 2).sum())
                    if d <= best_d:
                        best, best_d = k, d
                return best
            if z_e.ndim == 1:
                k = one(z_e)
                return k, codebook[k]
            idx = np.array([one(z) for z in z_e])
            return idx, codebook[idx]
        """, "vq.tie_last", "< not <="),
    "silent_broadcasting": ("""
        import numpy as np
        def squared_distances(z_e, codebook):
            z_e, codebook = np.asarray(z_e, dtype=float), np.asarray(codebook, dtype=float)
            return ((z_e[..., None, :] - codebook) ** 2).sum(axis=-1)
        """, "vq.silent_broadcasting", "numpy would broadcast them silently"),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_implementation_loses_points_and_is_named(tmp_path, zygote, name):
    source, misconception, text = WRONG[name]
    assert_loses_points_and_names(grade_source(tmp_path, zygote, source), misconception, text)


def test_missing_straight_through_loses_only_the_gradient_checks(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, WRONG["no_straight_through"][0])
    failed = {c.name for c in result.failed_checks}
    assert failed == {c.name for c in vq.CHECKS if "gradient" in c.name}


def test_a_missing_function_keeps_the_points_of_the_others(tmp_path, zygote):
    source = REFERENCE.split("def quantize_straight_through")[0]
    result = grade_source(tmp_path, zygote, source)
    assert all(c.function == vq.QS for c in result.failed_checks) and result.failed_checks
    assert 0 < result.score < result.max_score


def test_hard_coded_lesson_answers_earn_nothing(tmp_path, zygote):
    result = grade_source(tmp_path, zygote, """
        import numpy as np
        import torch
        def squared_distances(z_e, codebook):
            return np.array([2.4004, 0.0074, 1.3844])
        def nearest_code(z_e, codebook):
            return 1, np.array([0.65, -0.05])
        def quantize_straight_through(z_e, codebook):
            return z_e * 0 + torch.tensor([[0.65, -0.05]]), torch.tensor([1])
        """)
    assert result.score == 0, [(c.name, c.feedback) for c in result.checks if c.score]


CORRECT = {
    "torch_everywhere_alternative_straight_through": """
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
        """,
    # plain Python loops and lists: tests/corpus/vq/correct_plain_python_loops_and_lists.py
    "float32_numpy_and_one_hot": """
        import numpy as np
        import torch
        import torch.nn.functional as F
        def squared_distances(z_e, codebook):
            z = np.asarray(z_e, dtype=np.float32)
            c = np.asarray(codebook, dtype=np.float32)
            if c.ndim != 2 or z.shape[-1] != c.shape[1]:
                raise ValueError(f"bad shapes {z.shape} and {c.shape}")
            return np.square(np.expand_dims(z, -2) - c).sum(-1)
        def nearest_code(z_e, codebook):
            d = squared_distances(z_e, codebook)
            k = d.argmin(-1)
            c = np.asarray(codebook, dtype=np.float32)
            return (np.int64(k), c[k]) if d.ndim == 1 else (k, c[k])
        def quantize_straight_through(z_e, codebook):
            with torch.no_grad():
                d = (z_e.unsqueeze(1) - codebook.unsqueeze(0)).pow(2).sum(-1)
                idx = d.argmin(1)
            one_hot = F.one_hot(idx, codebook.shape[0]).to(codebook.dtype)
            return z_e + (one_hot @ codebook - z_e).detach(), idx
        """,
}


@pytest.mark.parametrize("name", CORRECT)
@pytest.mark.parametrize("seed", [5, 6])
def test_correct_styles_get_full_marks(tmp_path, zygote, name, seed):
    result = grade_source(tmp_path, zygote, CORRECT[name], seed)
    assert result.score == result.max_score, [(c.name, c.feedback) for c in result.failed_checks]


def test_float32_straight_through_far_from_the_origin_keeps_its_points(zygote):
    # This seed draws a code near 0 among values near 300: the reference's z_e + (codes - z_e).detach()
    # in float32 rounds at the scale of 300, about 3e-5 from the code, far beyond an absolute 1e-6.
    from grader.grading.runner import grade_submission

    result = grade_submission(Path(__file__).resolve().parent.parent / "solutions", zygote=zygote,
                              seed=4781036714627340134, concepts=["vq"])
    assert result.score == result.max_score, [c.feedback for c in result.checks if c.score < c.max_score]
