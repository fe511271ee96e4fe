"""The mastery quiz engine: content validation, agreement with the reference solutions, the key-less
learner copy, the per-learner shuffle, grading at "above 75%", answers files, saved progress, records."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from grader.grading import quiz as engine
from grader.store import open_gradebook
from grader.store.gradebook import Gradebook
from grader.course.quizdata import QuizDataError, learner_copy_text, load_learner, load_staff, staff_problems

ROOT = Path(__file__).resolve().parent.parent
STAFF = ROOT / "quizzes" / "mastery.toml"
LEARNER = ROOT / "quizzes" / "mastery.learner.json"


@pytest.fixture(scope="module")
def staff():
    return load_staff(STAFF)


@pytest.fixture(scope="module")
def learner_quiz():
    return load_learner(LEARNER)


@pytest.fixture(scope="module", params=["staff", "learner"])
def either(request, staff, learner_quiz):
    return staff if request.param == "staff" else learner_quiz


def _solution(name):
    spec = importlib.util.spec_from_file_location(f"_ref_{name}", ROOT / "solutions" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _answer_text(quiz, qid):
    q = quiz.question(qid)
    return next(o.text for o in q.options if o.id == quiz.answer(q))


def _distractor_texts(quiz, qid):
    q = quiz.question(qid)
    return [o.text for o in q.options if o.id != quiz.answer(q)]


# --- content ------------------------------------------------------------------------
def test_the_committed_quiz_validates_and_follows_the_lesson(staff):
    assert engine.validate(STAFF) == []
    assert engine.validate(LEARNER) == []
    assert [q.number for q in staff.questions] == list(range(1, 11))
    lesson_order = ["bottleneck", "mse", "prior-sampling", "sigma-and-generation", "reparameterization", "kl",
                    "vae-loss", "posterior-collapse", "vq-lookup", "latent-budget"]
    assert [q.id for q in staff.questions] == lesson_order
    # a fair quiz does not put every answer under the same canonical letter
    assert len({staff.answer(q) for q in staff.questions}) == 4


@pytest.fixture(scope="module")
def reference_numbers():
    mu, logvar, eps = [0.40, -0.20], [-0.70, 0.10], [0.50, -1.00]
    mse = _solution("mse").reconstruction_mse([0.10, 0.90, 0.85, 0.12], [0.12, 0.84, 0.80, 0.14])
    kl = _solution("kl").kl_to_standard_normal(mu, logvar)
    z = _solution("reparam").reparameterize(torch.tensor(mu), torch.tensor(logvar), torch.tensor(eps))
    x = torch.tensor([0.10, 0.90, 0.85, 0.12])
    total, recon, kl_t = _solution("elbo").vae_loss(x, torch.tensor([0.12, 0.84, 0.80, 0.14]), torch.tensor(mu),
                                                    torch.tensor(logvar), beta=0.1)
    budget = _solution("latent_budget")
    return {"mse": mse, "kl": kl, "z": z.tolist(), "total": float(total), "recon": float(recon),
            "kl_t": float(kl_t), "grid": budget.latent_grid(512, 512, 8), "reduction": budget.spatial_reduction(512, 512, 8)}


def test_numeric_answers_agree_with_the_reference_solutions(staff, reference_numbers):
    n = reference_numbers
    expected = {
        "mse": [f"{n['mse']:.4f}"],
        "kl": [f"{n['kl']:.4f}"],
        "reparameterization": ["[" + ", ".join(f"{v:.3f}" for v in n["z"]) + "]"],
        "vae-loss": [f"{n['total']:.4f}"],
        "latent-budget": [f"{n['grid'][0]} x {n['grid'][1]}", f"{n['reduction']}x"],
    }
    assert expected["mse"] == ["0.0017"] and expected["kl"] == ["0.2009"] and expected["vae-loss"] == ["0.0218"]
    assert expected["reparameterization"] == ["[0.752, -1.251]"] and expected["latent-budget"] == ["64 x 64", "64x"]
    for qid, numbers in expected.items():
        for number in numbers:
            assert number in _answer_text(staff, qid), (qid, number)
            # a two-part question crosses its parts: the right number is in the key and one distractor
            holders = [t for t in _distractor_texts(staff, qid) if re.search(re.escape(number) + r"(?![\d])", t)]
            assert len(holders) == (1 if qid in TWO_PART else 0), (qid, number, holders)
    # the ledger question quotes the solutions' own recon and KL
    assert f"{n['recon']:.4f}" in staff.question("vae-loss").prompt and f"{n['kl_t']:.4f}" in staff.question("vae-loss").prompt


def test_distractor_numbers_are_the_misconceptions_they_name(staff):
    """Each numeric distractor is what the named mistake really computes (not a made-up number)."""
    x, xh = np.array([0.10, 0.90, 0.85, 0.12]), np.array([0.12, 0.84, 0.80, 0.14])
    mu, lv = np.array([0.40, -0.20]), np.array([-0.70, 0.10])
    kl_terms = -0.5 * (1 + lv - mu ** 2 - np.exp(lv))
    sigma_as_var = -0.5 * (1 + lv - mu ** 2 - np.exp(0.5 * lv))
    swapped = 0.5 * np.sum(np.exp(-lv) * (1 + mu ** 2) - 1 + lv)   # KL(N(0, I) || q)
    z_var = mu + np.exp(lv) * np.array([0.5, -1.0])
    mistakes = {
        "mse": [f"{np.sum((x - xh) ** 2):.4f}", f"{np.mean(np.abs(x - xh)):.4f}", f"{np.sqrt(np.mean((x - xh) ** 2)):.4f}"],
        "kl": [f"{swapped:.4f}", f"{sigma_as_var.sum():.4f}", f"{kl_terms.mean():.4f}"],
        "reparameterization": ["[" + ", ".join(f"{v:.3f}" for v in z_var) + "]"],
        "vae-loss": ["0.2026", "0.2011", "-0.0184"],
    }
    recon, kl = 0.0017, 0.2009
    assert [f"{recon + kl:.4f}", f"{0.1 * recon + kl:.4f}", f"{recon - 0.1 * kl:.4f}"] == mistakes["vae-loss"]
    for qid, numbers in mistakes.items():
        texts = _distractor_texts(staff, qid)
        for number in numbers:
            assert sum(number in t for t in texts) == (2 if qid in TWO_PART else 1), (qid, number)


# Two-part questions: each part's right and wrong version, as the options word them.
TWO_PART = {
    "sigma-and-generation": (("sigma = exp(0.5 * logvar)", "sigma = exp(logvar)"),
                             ("from the prior p(z) = N(0, I)", "from the encoder's posterior q(z|x)")),
    "reparameterization": (("z = [0.752, -1.251]", "z = [0.648, -1.305]"),
                           ("gradients reach both mu and logvar", "gradients reach mu but not logvar")),
    "vq-lookup": (("receives code 1, [0.65, -0.05]", "receives the encoder output [0.72, -0.10] itself"),
                  ("straight-through estimator plus codebook and commitment losses",
                   "ordinary differentiable code, so plain backprop")),
}


@pytest.mark.parametrize("qid", sorted(TWO_PART))
def test_two_part_questions_cross_their_parts(staff, qid):
    """No convergence cue: the key is not the option that combines what the distractors share.

    Each part's right and wrong version appear in exactly two options, the four options are the
    four combinations, and the key is the one with both parts right.
    """
    q = staff.question(qid)
    combos = {}
    for o in q.options:
        combo = []
        for right, wrong in TWO_PART[qid]:
            assert (right in o.text) != (wrong in o.text), (o.id, o.text)
            combo.append(right in o.text)
        combos[o.id] = tuple(combo)
    assert sorted(combos.values()) == [(False, False), (False, True), (True, False), (True, True)]
    assert combos[staff.answer(q)] == (True, True)


def test_no_text_presents_mse_as_the_elbo(staff):
    """The lesson: MSE is a Gaussian negative log-likelihood only for a fixed observation variance and scale."""
    texts = [staff.key.explanation(q.id) for q in staff.questions] + [q.prompt for q in staff.questions]
    texts += [o.text for q in staff.questions for o in q.options]
    texts += [staff.key.why_not(q.id, o.id) for q in staff.questions for o in q.options]
    both = [t for t in texts if "MSE" in t and "ELBO" in t]
    assert both   # the vae-loss explanation says how the two relate
    for text in both:
        assert "fixed observation variance" in text and "not the ELBO" in text, text
    assert not any(re.search(r"MSE (is|equals) the (negative )?ELBO|standard VAE objective", t) for t in texts)


# The flagged items of an earlier version of the quiz: each cue the item-writing rules must catch.
OLD_ITEMS = {
    "extra precision (mse)": (1, "a", "0.0017 (0.001725): the four squared errors averaged over N = 4",
                              "the key quotes 2 decimal numbers"),
    "extra wording (vae-loss)": (6, "a", "recon = 0.0017 and KL = 0.2009 logged separately; "
                                         "total = 0.0017 + 0.1 * 0.2009 = 0.0218",
                                 "the key quotes 6 decimal numbers"),
    "prompt echo (vq-lookup)": (8, "d", "Forward picks code 1, [0.65, -0.05], by argmin; training uses a "
                                        "straight-through estimator plus codebook and commitment losses.",
                                "only the key repeats the prompt's wording (training)"),
    "prompt echo (posterior-collapse)": (7, "b", "Posterior collapse: near-zero KL in every dimension plus outputs "
                                                 "that ignore changes in z show the decoder is not using z.",
                                         "only the key repeats the prompt's wording (changes, outputs)"),
}


@pytest.mark.parametrize("case", sorted(OLD_ITEMS))
def test_the_item_writing_rules_catch_the_old_cues(case):
    index, option, text, message = OLD_ITEMS[case]
    data = _staff_data()
    q = data["questions"][index]
    assert q["answer"] == option
    if "prompt echo" in case:   # the old distractors did not share the echoed word either
        for o in q["options"]:
            o["text"] = o["text"].replace("training", "learning").replace("change", "vary").replace("outputs", "samples")
    next(o for o in q["options"] if o["id"] == option)["text"] = text
    problems = staff_problems(data)
    assert any(message in p for p in problems), problems


def test_the_key_may_be_the_longest_option_in_three_questions_at_most():
    data = _staff_data()
    assert not staff_problems(data)
    longest = [q for q in data["questions"]
               if len(next(o["text"] for o in q["options"] if o["id"] == q["answer"]))
               >= max(len(o["text"]) for o in q["options"] if o["id"] != q["answer"])]
    assert len(longest) <= 3
    padded = 0
    for q in data["questions"]:
        if q in longest:
            continue
        key = next(o for o in q["options"] if o["id"] == q["answer"])
        key["text"] += " " + "x" * max(len(o["text"]) for o in q["options"])
        padded += 1
        if padded + len(longest) == 4:
            break
    problems = staff_problems(data)
    assert any("the key is the longest option in 4 questions" in p for p in problems), problems


def test_the_item_writing_rules_on_their_own():
    from grader.course.quizdata import decimal_numbers, distinctive_words

    assert set(distinctive_words("It reconstructs; reconstruction was reconstructed from the samples")) == {
        "recons", "sample"}
    assert decimal_numbers("0.0017 (0.001725) over N = 4 and 262,144 positions") == ["0.0017", "0.001725"]


def _toml(data: dict) -> str:
    out = ["[quiz]"] + [f"{k} = {json.dumps(v)}" for k, v in data["quiz"].items()]
    for q in data["questions"]:
        out += ["", "[[questions]]"] + [f"{k} = {json.dumps(v)}" for k, v in q.items() if k != "options"]
        for o in q.get("options", []):
            out += ["[[questions.options]]"] + [f"{k} = {json.dumps(v)}" for k, v in o.items()]
    return "\n".join(out) + "\n"


def _staff_data():
    import tomllib

    return tomllib.loads(STAFF.read_text(encoding="utf-8"))


def _broken(mutate):
    data = _staff_data()
    mutate(data)
    return data


BROKEN = {
    "nine questions": (lambda d: d["questions"].pop(), "9 questions"),
    "duplicate id": (lambda d: d["questions"][1].update(id="bottleneck"), "id is used by another question"),
    "three options": (lambda d: d["questions"][0]["options"].pop(0), "options must be exactly a, b, c, d"),
    "answer not an option": (lambda d: d["questions"][2].update(answer="e"), "answer 'e' is not one of its options"),
    "no answer": (lambda d: d["questions"][2].pop("answer"), "answer must be a non-empty string"),
    "distractor without why_not": (lambda d: d["questions"][0]["options"][0].pop("why_not"),
                                   "a distractor needs a why_not"),
    "why_not on the answer": (lambda d: d["questions"][0]["options"][2].update(why_not="x"),
                              "the correct option must not have a why_not"),
    "empty prompt": (lambda d: d["questions"][4].update(prompt="  "), "prompt must be a non-empty string"),
    "empty option text": (lambda d: d["questions"][4]["options"][1].update(text=""), "text must be a non-empty"),
    "empty explanation": (lambda d: d["questions"][5].update(explanation=""), "explanation must be a non-empty"),
    "numbering": (lambda d: d["questions"][3].update(number=7), "number must be 4"),
    "typo key": (lambda d: d["questions"][0]["options"][0].update({"why-not": "x"}), "unknown key 'why-not'"),
    "same text twice": (lambda d: d["questions"][1]["options"][1].update(text=d["questions"][1]["options"][2]["text"]),
                        "two options have the same text"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_the_validator_names_each_problem(tmp_path, case):
    mutate, message = BROKEN[case]
    path = tmp_path / "quiz.toml"
    path.write_text(_toml(_broken(mutate)), encoding="utf-8")
    problems = engine.validate(path)
    assert any(message in p for p in problems), problems
    with pytest.raises(QuizDataError):
        load_staff(path)


def test_the_validator_accepts_the_round_tripped_content_and_rejects_bad_toml(tmp_path):
    good = tmp_path / "quiz.toml"
    good.write_text(_toml(_staff_data()), encoding="utf-8")
    assert engine.validate(good) == []
    bad = tmp_path / "bad.toml"
    bad.write_text("[quiz\nid = 1", encoding="utf-8")
    assert "not valid TOML" in engine.validate(bad)[0]
    assert engine.validate(tmp_path / "missing.toml") == ["file not found"]


def test_a_stale_learner_copy_is_a_problem(tmp_path):
    src = tmp_path / "mastery.toml"
    src.write_text(STAFF.read_text(encoding="utf-8"), encoding="utf-8")
    engine.build_learner_copy(src, tmp_path / "mastery.learner.json")
    assert engine.validate(src) == []
    src.write_text(src.read_text(encoding="utf-8").replace("undercomplete bottleneck", "narrow bottleneck"), "utf-8")
    assert any("out of date" in p for p in engine.validate(src))


# --- the learner copy ------------------------------------------------------------------
def test_the_committed_learner_copy_is_current_and_deterministic():
    assert LEARNER.read_text(encoding="utf-8") == learner_copy_text(STAFF) == learner_copy_text(STAFF)


def _all_keys(node):
    if isinstance(node, dict):
        for k, v in node.items():
            yield k
            yield from _all_keys(v)
    elif isinstance(node, list):
        for v in node:
            yield from _all_keys(v)


def test_the_learner_copy_holds_no_key_in_plain_text(staff):
    raw = LEARNER.read_text(encoding="utf-8")
    data = json.loads(raw)
    keys = set(_all_keys(data))
    assert not keys & {"answer", "answers", "correct", "is_correct", "explanation", "why_not", "solution"}
    assert not re.search(r'"(answer|correct|right|solution)"\s*:', raw)
    texts = [staff.key.explanation(q.id) for q in staff.questions]
    texts += [staff.key.why_not(q.id, o.id) for q in staff.questions for o in q.options if not staff.key.is_correct(q.id, o.id)]
    assert len(texts) == 40
    blobs = b"".join(base64.b64decode(o["feedback"]) for q in data["questions"] for o in q["options"])
    visible = "\n".join([q.prompt for q in staff.questions] + [o.text for q in staff.questions for o in q.options])
    checked = 0
    for text in texts:
        for start in range(0, len(text) - 24, 12):  # no 24-character stretch of any feedback, plain or base64'd
            chunk = text[start:start + 24]
            if chunk in visible:
                continue  # an explanation may quote its option, which the learner sees anyway
            checked += 1
            assert chunk not in raw and chunk.encode() not in blobs, chunk
    assert checked > 400
    for q in data["questions"]:
        # feedback blobs of a question have one length, so the explanation does not stand out
        assert len({len(o["feedback"]) for o in q["options"]}) == 1
        # the key is a salted digest, not the hash of a bare option id
        import hashlib
        assert q["key"] not in {hashlib.sha256(x.encode()).hexdigest() for x in "abcdABCD"}


def test_the_learner_copy_grades_and_explains_like_the_staff_copy(staff, learner_quiz):
    assert learner_quiz.fingerprint == staff.fingerprint
    assert learner_quiz.graded_with == "learner copy" and staff.graded_with == "staff key"
    for q in staff.questions:
        lq = learner_quiz.question(q.id)
        assert lq.prompt == q.prompt and [o.text for o in lq.options] == [o.text for o in q.options]
        assert learner_quiz.answer(lq) == staff.answer(q)
        assert learner_quiz.key.explanation(q.id) == staff.key.explanation(q.id)
        for o in q.options:
            assert learner_quiz.key.why_not(q.id, o.id) == staff.key.why_not(q.id, o.id)


def test_a_damaged_learner_copy_is_refused(tmp_path):
    data = json.loads(LEARNER.read_text(encoding="utf-8"))
    data["questions"][3]["key"] = "0" * 64
    path = tmp_path / "copy.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(QuizDataError, match="matches no option"):
        load_learner(path)
    path.write_text("[1, 2]", encoding="utf-8")
    assert engine.validate(path)


# --- the shuffle ---------------------------------------------------------------------------
def test_the_shuffle_is_stable_per_learner_and_differs_between_learners(staff):
    orders = {name: [engine.option_order(staff, name, q) for q in staff.questions]
              for name in ("ada@example.org", "grace@example.org")}
    assert orders["ada@example.org"] == [engine.option_order(staff, "ada@example.org", q) for q in staff.questions]
    assert orders["ada@example.org"] != orders["grace@example.org"]
    for order in orders["ada@example.org"]:
        assert sorted(order) == ["a", "b", "c", "d"]
    # pinned: the same learner gets the same letters on every machine and Python version
    assert orders["ada@example.org"][0] == engine.option_order(staff, "ada@example.org", staff.questions[0])
    assert "".join(orders["ada@example.org"][0]) == "".join(
        sorted("abcd", key=lambda o: __import__("hashlib").sha256(
            f"vae-mastery\x1fada@example.org\x1fbottleneck\x1f{o}".encode()).hexdigest()))
    # across a class, the correct answer of a question lands under every letter
    letters = {engine.letter_of(staff, f"learner{i}", staff.questions[0], staff.answer(staff.questions[0]))
               for i in range(40)}
    assert letters == set("ABCD")


def test_letters_map_back_to_options(staff):
    for q in staff.questions:
        for letter in "ABCD":
            option = engine.option_of(staff, "ada", q, letter)
            assert engine.letter_of(staff, "ada", q, option) == letter
        assert engine.option_of(staff, "ada", q, "b") == engine.option_of(staff, "ada", q, "B")


# --- grading ------------------------------------------------------------------------------
def _choices(quiz, right: int) -> dict:
    """The first `right` questions answered correctly, the rest with a distractor."""
    out = {}
    for i, q in enumerate(quiz.questions):
        answer = quiz.answer(q)
        out[q.id] = answer if i < right else next(o.id for o in q.options if o.id != answer)
    return out


@pytest.mark.parametrize("right, passed", [(10, True), (8, True), (7, False), (0, False)])
def test_grading_passes_above_75_percent(either, right, passed):
    result = engine.grade(either, _choices(either, right), learner="ada")
    assert (result.score, result.max_score, result.passed) == (right, 10, passed)
    assert [q.correct for q in result.questions] == [i < right for i in range(10)]
    assert result.to_dict()["passed"] is passed and result.to_dict()["needed"] == 8


def test_an_empty_attempt_scores_zero(either):
    result = engine.grade(either, {}, learner="ada")
    assert (result.score, result.passed) == (0, False)
    assert all(q.chosen is None and q.letter is None and not q.correct for q in result.questions)
    assert "You left this one blank." in engine.review_text(either, result)


def test_the_threshold_lives_in_config():
    from grader import settings as config

    assert engine.needed(10) == 8 and engine.needed(10, config.PASS_FRACTION) == 8
    assert engine.needed(4) == 4   # 3 of 4 is exactly 75%: not above it
    assert engine.needed(10, 0.5) == 6


def test_the_review_shows_the_learners_own_letters_and_feedback(staff):
    choices = _choices(staff, 9)
    result = engine.grade(staff, choices, learner="grace")
    text = engine.review_text(staff, result)
    q = staff.questions[-1]
    picked = choices[q.id]
    letter = engine.letter_of(staff, "grace", q, picked)
    assert f"Why not {letter}: {staff.key.why_not(q.id, picked)[:40]}" in text
    assert staff.key.explanation(q.id)[:30] in text.replace("\n   ", " ")
    order = engine.option_order(staff, "grace", q)
    shown = [next(o.text for o in q.options if o.id == oid)[:30] for oid in order]
    positions = [text.replace("\n   ", " ").index(s) for s in shown]
    assert positions == sorted(positions)
    assert "Score: 9 / 10  PASSED" in text
    assert staff.questions[0].prompt[:40] not in text   # questions answered right are not repeated


# --- answers files -------------------------------------------------------------------------
def test_answers_files_in_json_text_and_toml_agree(staff, tmp_path):
    letters = {q.id: engine.letter_of(staff, "ada", q, staff.answer(q)) for q in staff.questions}
    j = tmp_path / "a.json"
    j.write_text(json.dumps({"learner": "ada", "answers": letters}), encoding="utf-8")
    t = tmp_path / "a.txt"
    t.write_text("# my answers\nlearner: ada\n" + "".join(f"{q.number}: {letters[q.id].lower()}\n"
                                                           for q in staff.questions), encoding="utf-8")
    m = tmp_path / "a.toml"
    m.write_text('learner = "ada"\n[answers]\n' + "".join(f'{q.id} = "{letters[q.id]}"\n' for q in staff.questions),
                 encoding="utf-8")
    for path in (j, t, m):
        result = engine.grade_answers_file(path, "ada", quiz=staff)
        assert result.score == 10, path


def test_letters_follow_the_order_of_the_learner_named_in_the_file(staff, tmp_path):
    letters = {q.id: engine.letter_of(staff, "ada", q, staff.answer(q)) for q in staff.questions}
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"learner": "ada", "answers": letters}), encoding="utf-8")
    result = engine.grade_answers_file(path, "student-042", quiz=staff)   # batch: folder name as learner
    assert (result.score, result.learner, result.order_learner) == (10, "student-042", "ada")
    path.write_text(json.dumps({"answers": letters}), encoding="utf-8")    # no learner: grace's order applies
    assert engine.grade_answers_file(path, "grace", quiz=staff).score < 10
    assert engine.grade_answers_file(path, None, quiz=staff).learner   # falls back to this machine's learner


def test_canonical_ids_blank_answers_and_partial_files(staff, tmp_path):
    path = tmp_path / "a.json"
    canonical = {q.id: staff.answer(q) for q in staff.questions}
    path.write_text(json.dumps({"letters": "canonical", "answers": canonical}), encoding="utf-8")
    assert engine.grade_answers_file(path, "x", quiz=staff).score == 10
    path.write_text(json.dumps({"answers": canonical}), encoding="utf-8")
    assert engine.grade_answers_file(path, "x", quiz=staff, canonical=True).score == 10
    canonical["kl"] = None
    canonical["mse"] = "-"
    path.write_text(json.dumps({"letters": "canonical", "answers": canonical}), encoding="utf-8")
    result = engine.grade_answers_file(path, "x", quiz=staff)
    assert result.score == 8 and result.passed and result.questions[5].chosen is None
    del canonical["bottleneck"]
    path.write_text(json.dumps({"letters": "canonical", "answers": canonical}), encoding="utf-8")
    with pytest.raises(engine.AnswersError, match=r"missing answers for 1 \(bottleneck\)"):
        engine.grade_answers_file(path, "x", quiz=staff)
    assert engine.grade_answers_file(path, "x", quiz=staff, partial=True).score == 7


# --- progress and records -------------------------------------------------------------------
class Script:
    """Feeds lines to take(); raises EOFError when they run out (a closed terminal)."""

    def __init__(self, lines):
        self.lines, self.prompts, self.out = list(lines), [], []

    def ask(self, prompt):
        self.prompts.append(prompt)
        if not self.lines:
            raise EOFError
        return self.lines.pop(0)

    def echo(self, text=""):
        self.out.append(text)


def _letters(quiz, learner, right=10):
    return [engine.letter_of(quiz, learner, q, c) for q, c in zip(quiz.questions, _choices(quiz, right).values())]


def test_an_interrupted_session_resumes_with_its_answers(staff, tmp_path):
    progress = tmp_path / ".vaegrade" / "quiz-progress.json"
    first = Script(["Z", ""] + _letters(staff, "ada")[:4])
    with pytest.raises(engine.Interrupted) as stopped:
        engine.take(staff, learner="ada", ask=first.ask, echo=first.echo, progress=progress)
    assert stopped.value.answered == 4
    assert sum("Please answer A, B, C or D" in line for line in first.out) == 2
    saved = json.loads(progress.read_text())
    assert saved["answers"] == {q.id: staff.answer(q) for q in staff.questions[:4]}
    second = Script(["maybe", "y"] + _letters(staff, "ada", 8)[4:])
    result = engine.take(staff, learner="ada", ask=second.ask, echo=second.echo, progress=progress)
    assert "Please answer y (resume) or n (start over)." in second.out
    assert not any("Question 1 of 10" in line for line in second.out)
    assert (result.score, result.passed) == (8, True)
    engine.finish(result, progress=progress, answers_out=tmp_path / "quiz_answers.json")
    assert not progress.exists()
    assert engine.grade_answers_file(tmp_path / "quiz_answers.json", "ada", quiz=staff).score == 8


def test_progress_is_kept_per_learner_and_discarded_on_restart(staff, tmp_path):
    progress = tmp_path / "p.json"
    with pytest.raises(engine.Interrupted):
        engine.take(staff, learner="ada", ask=Script(_letters(staff, "ada")[:2] + ["q"]).ask,
                    echo=lambda s="": None, progress=progress)
    assert len(engine.load_progress(progress, staff, "ada")) == 2
    assert engine.load_progress(progress, staff, "grace") == {}
    script = Script(["n"] + _letters(staff, "ada", 0))
    assert engine.take(staff, learner="ada", ask=script.ask, echo=script.echo, progress=progress).score == 0
    script = Script(_letters(staff, "ada"))   # --restart: no resume question at all
    with pytest.raises(engine.Interrupted):
        engine.take(staff, learner="ada", ask=Script(_letters(staff, "ada")[:3]).ask, echo=lambda s="": None,
                    progress=progress)
    assert engine.take(staff, learner="ada", ask=script.ask, echo=script.echo, progress=progress,
                       restart=True).score == 10
    progress.write_text("{not json")
    assert engine.load_progress(progress, staff, "ada") == {}


def test_a_graded_attempt_is_recorded_with_canonical_answers(staff, tmp_path):
    result = engine.grade(staff, _choices(staff, 7), learner="ada")
    book_path = tmp_path / "gb.sqlite"
    with open_gradebook(book_path) as book:
        engine.record(book, result)
    with Gradebook(book_path) as book:
        attempt = book.latest("ada", "quiz")
        assert (attempt.score, attempt.max_score, attempt.passed) == (7, 10, False)
        answers = [(q.id, q.chosen, q.correct) for q in attempt.result.questions]
    assert answers == [(q.id, c, i < 7) for i, (q, c) in enumerate(zip(staff.questions, _choices(staff, 7).values()))]
    assert attempt.result == result   # the typed record comes back as graded
    assert attempt.result.graded_with == "staff key" and len(attempt.result.questions) == 10


def test_status_combines_the_latest_exercises_and_quiz(staff, tmp_path):
    from grader.course import manifest
    from grader.grading.results import CheckResult, ConceptResult, GradingResult, Status
    from grader.verbs.status import learner_status, status_text

    book_path = tmp_path / "gb.sqlite"
    st = learner_status(book_path, "ada")
    assert not st.complete and st.exercises is None and st.quiz is None
    assert "not graded yet — run `vaegrade grade`" in status_text(st)
    assert not book_path.exists()   # reading a missing gradebook does not create one

    def graded(failing: set[str]):
        concepts = [ConceptResult(c.id, c.title, c.section, c.points, [CheckResult(
            c.id, "check", c.functions[0], c.points, 0.0 if c.id in failing else c.points,
            Status.FAILED if c.id in failing else Status.PASSED)]) for c in manifest.load()]
        return GradingResult(concepts, seed=1, grader_version="test", submission="x")

    with Gradebook(book_path) as book:
        book.record_exercises("ada", graded({"kl", "vq", "elbo"}), None)
    with open_gradebook(book_path) as book:
        engine.record(book, engine.grade(staff, _choices(staff, 9), learner="ada"))
    st = learner_status(book_path, "ada")
    assert not st.complete and st.quiz["passed"] and not st.exercises["passed"]
    assert any("kl" in s and "vq" in s for s in st.next_steps())
    with Gradebook(book_path) as book:
        book.record_exercises("ada", graded({"kl"}), None)
    st = learner_status(book_path, "ada")
    assert st.complete and "Lesson complete" in status_text(st)
    assert {c.id: c.passed for c in st.concepts}["kl"] is False
    assert learner_status(book_path, "grace").quiz is None
