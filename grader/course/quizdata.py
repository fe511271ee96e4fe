"""Quiz content: the staff copy (TOML, with the key), its validator, and the key-less learner copy (JSON).

The staff copy (quizzes/mastery.toml) holds each question's `answer`,
`explanation` and every distractor's `why_not`. The learner copy
(quizzes/mastery.learner.json, built by `build_learner_copy`) holds the same
prompts and options but no key in plain text:

- the correct option is stored as a salted digest,
  sha256(salt | quiz id | question id | option id), one per question;
- every option carries one feedback blob, the `why_not` of a distractor or
  the explanation for the answer, XORed with a SHAKE-256 keystream derived
  from (salt, quiz id, question id, option id), padded to the same length
  within a question and base64-encoded, so neither the text nor its length
  points at the answer.

That is obfuscation, not secrecy: anyone running code on the learner copy can
try the four options of a question against its digest. A local check is
therefore never authoritative; the attempt that counts is the one staff or
CI grade with the staff copy.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from grader.settings import MAX_ANSWERS_BYTES

STAFF_FILE = "mastery.toml"
LEARNER_FILE = "mastery.learner.json"
LEARNER_FORMAT = "vaegrade-quiz-learner/1"
QUESTION_COUNT = 10
OPTION_IDS = ("a", "b", "c", "d")
MAX_FILE_BYTES = MAX_ANSWERS_BYTES

_QUIZ_KEYS = {"id", "title", "lesson"}
_QUESTION_KEYS = {"id", "number", "section", "prompt", "answer", "explanation", "options"}
_OPTION_KEYS = {"id", "text", "why_not"}


class QuizDataError(ValueError):
    """A quiz data file cannot be used (unreadable, or it fails validation)."""

    def __init__(self, path: Path, problems: list[str]):
        self.path, self.problems = Path(path), problems
        shown = "\n  ".join(problems[:12]) + (f"\n  ... and {len(problems) - 12} more" if len(problems) > 12 else "")
        super().__init__(f"the quiz data {path} is not valid:\n  {shown}")


@dataclass(frozen=True)
class Option:
    id: str    #: canonical option id, "a" to "d" (as written in the staff copy)
    text: str  #: what the learner reads


@dataclass(frozen=True)
class Question:
    id: str                     #: stable id used in answers files and the gradebook ("kl")
    number: int                 #: 1 to 10, the lesson's order
    section: str                #: the lesson section it tests (to reread after a miss)
    prompt: str
    options: tuple[Option, ...]  #: canonical order (a, b, c, d); learners see their own shuffle


class StaffKey:
    """The answer key read in plain text from the staff copy."""

    authoritative = True

    def __init__(self, answers: dict[str, str], explanations: dict[str, str], why_not: dict[tuple[str, str], str]):
        self._answers, self._explanations, self._why_not = answers, explanations, why_not

    def is_correct(self, question: str, option: str) -> bool:
        return self._answers[question] == option

    def explanation(self, question: str) -> str:
        return self._explanations[question]

    def why_not(self, question: str, option: str) -> str:
        return self._why_not.get((question, option), "")


def _digest(salt: str, quiz: str, question: str, option: str) -> str:
    return hashlib.sha256(f"{salt}\x1f{quiz}\x1f{question}\x1f{option}".encode()).hexdigest()


def _keystream(salt: str, quiz: str, question: str, option: str, n: int) -> bytes:
    return hashlib.shake_256(f"feedback\x1f{salt}\x1f{quiz}\x1f{question}\x1f{option}".encode()).digest(n)


def _seal(text: str, length: int, salt: str, quiz: str, question: str, option: str) -> str:
    raw = text.encode().ljust(length, b"\0")
    return base64.b64encode(bytes(a ^ b for a, b in zip(raw, _keystream(salt, quiz, question, option, length)))).decode()


def _open(blob: str, salt: str, quiz: str, question: str, option: str) -> str:
    raw = base64.b64decode(blob)
    return bytes(a ^ b for a, b in zip(raw, _keystream(salt, quiz, question, option, len(raw)))).rstrip(b"\0").decode()


class LearnerKey:
    """The key as the learner copy holds it: digests and sealed feedback, opened by trying each option."""

    authoritative = False

    def __init__(self, quiz_id: str, salt: str, digests: dict[str, str], sealed: dict[tuple[str, str], str],
                 option_ids: dict[str, tuple[str, ...]]):
        self._quiz, self._salt, self._digests, self._sealed, self._option_ids = quiz_id, salt, digests, sealed, option_ids

    def is_correct(self, question: str, option: str) -> bool:
        return _digest(self._salt, self._quiz, question, option) == self._digests[question]

    def _feedback(self, question: str, option: str) -> str:
        return _open(self._sealed[(question, option)], self._salt, self._quiz, question, option)

    def explanation(self, question: str) -> str:
        answer = next(o for o in self._option_ids[question] if self.is_correct(question, o))
        return self._feedback(question, answer)

    def why_not(self, question: str, option: str) -> str:
        return "" if self.is_correct(question, option) else self._feedback(question, option)


@dataclass(frozen=True)
class Quiz:
    """The quiz as the program uses it, whichever copy it was read from."""

    id: str
    title: str
    lesson: str
    questions: tuple[Question, ...]
    key: StaffKey | LearnerKey
    path: Path

    @property
    def graded_with(self) -> str:
        return "staff key" if self.key.authoritative else "learner copy"

    @cached_property
    def fingerprint(self) -> str:
        """Hash of what a learner sees (same for the staff and the learner copy of the same content)."""
        seen = [[q.id, q.number, q.prompt, [[o.id, o.text] for o in q.options]] for q in self.questions]
        return hashlib.sha256(json.dumps([self.id, seen]).encode()).hexdigest()[:16]

    def question(self, ref: str) -> Question | None:
        """A question by id ("kl") or number ("6")."""
        ref = ref.strip()
        for q in self.questions:
            if ref == q.id or ref == str(q.number):
                return q
        return None

    def answer(self, question: Question) -> str:
        return next(o.id for o in question.options if self.key.is_correct(question.id, o.id))


# --- reading -----------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    path = Path(path)
    if not path.is_file():
        raise QuizDataError(path, ["file not found"])
    if path.stat().st_size > MAX_FILE_BYTES:
        raise QuizDataError(path, [f"larger than {MAX_FILE_BYTES} bytes; this is not a quiz file"])
    return path.read_bytes()


def _parse_toml(path: Path) -> tuple[dict | None, list[str]]:
    try:
        return tomllib.loads(_read_bytes(path).decode("utf-8")), []
    except QuizDataError as exc:
        return None, exc.problems
    except UnicodeDecodeError:
        return None, ["not UTF-8 text"]
    except tomllib.TOMLDecodeError as exc:
        return None, [f"not valid TOML: {exc}"]


def _text(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


# --- item writing ----------------------------------------------------------------------
#
# Cues that let a test-wise learner pick the key without knowing the lesson. Three rules,
# each precise enough for a test to enforce:
#
# - length: the key is a longest option of a question (no distractor is longer) in at most
#   MAX_KEY_LONGEST questions of the quiz;
# - echo: no distinctive word of the prompt is repeated by the key and by no distractor;
# - precision: the key quotes no more decimal numbers than the distractor that quotes most.
#
# A distinctive word is a run of letters, lowercased, at least 4 long and not a stopword,
# compared by its stem: a plural "s" dropped, then the first STEM_LETTERS letters
# ("reconstructs", "reconstruction" and "reconstructed" are one word). A decimal number
# is digits, a point, digits ("0.001725"; "N = 4" and "262,144" are not decimals).

MAX_KEY_LONGEST = 3
STEM_LETTERS = 6
_STOPWORDS = frozenset("""
    about after also another because been before being both could does each either every from have
    into itself just more most much only other over same should since some such than that their them
    then there these they this those under very what when where which while will with would your
""".split())


def distinctive_words(text: str) -> dict[str, str]:
    """The distinctive words of `text` (see the rules above): {stem: the first word with that stem}."""
    stems: dict[str, str] = {}
    for word in re.findall(r"[a-z]+", text.lower()):
        if len(word) < 4 or word in _STOPWORDS:
            continue
        stem = word[:-1] if word.endswith("s") and len(word) > 4 else word
        stems.setdefault(stem[:STEM_LETTERS], word)
    return stems


def decimal_numbers(text: str) -> list[str]:
    return re.findall(r"\d+\.\d+", text)


def item_writing_problems(questions: list[dict]) -> list[str]:
    """Cues that point at the key (length, echo, precision) in structurally valid questions."""
    problems, longest = [], []
    for q in questions:
        texts = {o["id"]: o["text"] for o in q["options"]}
        key, distractors = texts[q["answer"]], [t for oid, t in texts.items() if oid != q["answer"]]
        where = f"question {q['id']!r}"
        if len(key) >= max(map(len, distractors)):
            longest.append(q["id"])
        in_distractors = set().union(*map(distinctive_words, distractors))
        in_key = distinctive_words(key)
        echoed = sorted(in_key[s] for s in distinctive_words(q["prompt"]).keys() & in_key.keys() - in_distractors)
        if echoed:
            problems.append(f"{where}: only the key repeats the prompt's wording ({', '.join(echoed)}); "
                            "use it in a distractor too, or reword the key")
        most = max(len(decimal_numbers(t)) for t in distractors)
        if len(decimal_numbers(key)) > most:
            problems.append(f"{where}: the key quotes {len(decimal_numbers(key))} decimal numbers, every distractor "
                            f"at most {most}; extra precision marks the key")
    if len(longest) > MAX_KEY_LONGEST:
        problems.append(f"the key is the longest option in {len(longest)} questions ({', '.join(longest)}), "
                        f"at most {MAX_KEY_LONGEST} allowed: shorten those keys or lengthen a distractor")
    return problems


def staff_problems(data: dict) -> list[str]:
    """Everything wrong with parsed staff-copy data; problems name the question id and key to fix."""
    problems = []
    quiz = data.get("quiz")
    if not isinstance(quiz, dict):
        return ["no [quiz] table (id, title, lesson)"]
    problems += [f"[quiz] {k} must be a non-empty string" for k in sorted(_QUIZ_KEYS) if not _text(quiz.get(k))]
    problems += [f"[quiz] unknown key {k!r}" for k in sorted(set(quiz) - _QUIZ_KEYS)]
    questions = data.get("questions")
    if not isinstance(questions, list) or not all(isinstance(q, dict) for q in questions):
        return problems + ["no [[questions]] array of tables"]
    if len(questions) != QUESTION_COUNT:
        problems.append(f"{len(questions)} questions, the lesson's mastery check has {QUESTION_COUNT}")
    seen_ids: set[str] = set()
    for index, q in enumerate(questions, start=1):
        qid = q.get("id")
        where = f"question {qid!r}" if _text(qid) else f"question #{index}"
        if not _text(qid):
            problems.append(f"{where}: id must be a non-empty string")
        elif qid in seen_ids:
            problems.append(f"{where}: id is used by another question")
        else:
            seen_ids.add(qid)
        if q.get("number") != index or isinstance(q.get("number"), bool):
            problems.append(f"{where}: number must be {index} (questions are numbered 1 to "
                            f"{QUESTION_COUNT} in the lesson's order), got {q.get('number')!r}")
        problems += [f"{where}: {k} must be a non-empty string" for k in ("section", "prompt", "explanation", "answer")
                     if not _text(q.get(k))]
        problems += [f"{where}: unknown key {k!r}" for k in sorted(set(q) - _QUESTION_KEYS)]
        options = q.get("options")
        if not isinstance(options, list) or not all(isinstance(o, dict) for o in options):
            problems.append(f"{where}: no [[questions.options]]")
            continue
        ids = [o.get("id") for o in options]
        if len(options) != len(OPTION_IDS) or sorted(map(str, ids)) != list(OPTION_IDS):
            problems.append(f"{where}: options must be exactly {', '.join(OPTION_IDS)} (one each), got {ids}")
        answer = q.get("answer")
        if _text(answer) and answer not in ids:
            problems.append(f"{where}: answer {answer!r} is not one of its options {ids}")
        texts = [o.get("text") for o in options]
        if len({t.strip() for t in texts if _text(t)}) != sum(map(_text, texts)):
            problems.append(f"{where}: two options have the same text")
        for o in options:
            oid = o.get("id")
            here = f"{where} option {oid!r}"
            if not _text(o.get("text")):
                problems.append(f"{here}: text must be a non-empty string")
            problems += [f"{here}: unknown key {k!r}" for k in sorted(set(o) - _OPTION_KEYS)]
            if oid == answer and "why_not" in o:
                problems.append(f"{here}: the correct option must not have a why_not (its feedback is the explanation)")
            elif oid != answer and not _text(o.get("why_not")):
                problems.append(f"{here}: a distractor needs a why_not naming the misconception")
    if not problems:
        problems += item_writing_problems(questions)
    return problems


def validate(path: str | Path) -> list[str]:
    """Problems with a quiz data file: the staff copy (.toml) or a learner copy (.json); [] when valid.

    For the staff copy, a learner copy next to it (mastery.learner.json) must
    also be up to date with it.
    """
    path = Path(path)
    if path.suffix == ".json":
        try:
            load_learner(path)
        except QuizDataError as exc:
            return exc.problems
        return []
    data, problems = _parse_toml(path)
    if data is None:
        return problems
    problems = staff_problems(data)
    learner = path.with_name(path.stem + ".learner.json")
    if not problems and learner.is_file() and learner.read_text(encoding="utf-8") != learner_copy_text(path):
        problems.append(f"{learner.name} is out of date with {path.name}: rebuild it with `vaegrade dev quiz-copy`")
    return problems


def load_staff(path: str | Path) -> Quiz:
    path = Path(path)
    data, problems = _parse_toml(path)
    problems = problems or staff_problems(data)
    if problems:
        raise QuizDataError(path, problems)
    questions, answers, explanations, why_not = [], {}, {}, {}
    for q in data["questions"]:
        options = tuple(Option(o["id"], o["text"].strip()) for o in sorted(q["options"], key=lambda o: o["id"]))
        questions.append(Question(q["id"], q["number"], q["section"], q["prompt"].strip(), options))
        answers[q["id"]], explanations[q["id"]] = q["answer"], q["explanation"].strip()
        why_not.update({(q["id"], o["id"]): o["why_not"].strip() for o in q["options"] if "why_not" in o})
    meta = data["quiz"]
    return Quiz(meta["id"], meta["title"], meta["lesson"], tuple(questions),
                StaffKey(answers, explanations, why_not), path)


def load_learner(path: str | Path) -> Quiz:
    path = Path(path)
    try:
        data = json.loads(_read_bytes(path).decode("utf-8"))
    except QuizDataError:
        raise
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise QuizDataError(path, [f"not valid JSON: {exc}"]) from None
    try:
        if data.get("format") != LEARNER_FORMAT:
            raise QuizDataError(path, [f"format must be {LEARNER_FORMAT!r}, got {data.get('format')!r}"])
        meta, salt = data["quiz"], data["salt"]
        questions, digests, sealed, option_ids = [], {}, {}, {}
        for index, q in enumerate(data["questions"], start=1):
            options = tuple(Option(o["id"], o["text"]) for o in q["options"])
            if [o.id for o in options] != list(OPTION_IDS) or q["number"] != index or not all(
                    _text(v) for v in (q["id"], q["prompt"], q["section"], q["key"])):
                raise QuizDataError(path, [f"question #{index}: malformed entry"])
            questions.append(Question(q["id"], q["number"], q["section"], q["prompt"], options))
            digests[q["id"]], option_ids[q["id"]] = q["key"], tuple(OPTION_IDS)
            sealed.update({(q["id"], o["id"]): o["feedback"] for o in q["options"]})
        quiz = Quiz(meta["id"], meta["title"], meta["lesson"], tuple(questions),
                    LearnerKey(meta["id"], salt, digests, sealed, option_ids), path)
        for q in quiz.questions:
            if sum(quiz.key.is_correct(q.id, o.id) for o in q.options) != 1:
                raise QuizDataError(path, [f"question {q.id!r}: its key matches no option (file damaged?)"])
            for o in q.options:
                quiz.key.explanation(q.id), quiz.key.why_not(q.id, o.id)
    except QuizDataError:
        raise
    except (KeyError, TypeError, AttributeError, ValueError, StopIteration) as exc:
        raise QuizDataError(path, [f"not a learner copy of the quiz ({type(exc).__name__}: {exc})"]) from None
    if len(quiz.questions) != QUESTION_COUNT or len({q.id for q in quiz.questions}) != QUESTION_COUNT:
        raise QuizDataError(path, [f"must hold {QUESTION_COUNT} questions with distinct ids"])
    return quiz


def load(path: str | Path) -> Quiz:
    """Either copy, by its suffix: .toml is the staff copy, .json a learner copy."""
    path = Path(path)
    return load_learner(path) if path.suffix == ".json" else load_staff(path)


# --- the learner copy ----------------------------------------------------------------
def learner_copy(src_toml: str | Path) -> dict:
    """The learner copy of a staff copy, as a JSON-ready dict (deterministic: same input, same bytes)."""
    src_toml = Path(src_toml)
    quiz = load_staff(src_toml)
    salt = hashlib.sha256(b"vaegrade-quiz-salt\x1f" + src_toml.read_bytes()).hexdigest()[:32]
    questions = []
    for q in quiz.questions:
        answer = quiz.answer(q)
        feedback = {o.id: quiz.key.explanation(q.id) if o.id == answer else quiz.key.why_not(q.id, o.id)
                    for o in q.options}
        length = max(len(t.encode()) for t in feedback.values()) + 16
        questions.append({
            "id": q.id, "number": q.number, "section": q.section, "prompt": q.prompt,
            "key": _digest(salt, quiz.id, q.id, answer),
            "options": [{"id": o.id, "text": o.text, "feedback": _seal(feedback[o.id], length, salt, quiz.id, q.id, o.id)}
                        for o in q.options],
        })
    return {
        "format": LEARNER_FORMAT,
        "note": ("Learner copy of the mastery quiz, generated from the staff copy by `vaegrade dev quiz-copy`; "
                 "do not edit. It holds no answer key in plain text: each question's key is a salted digest "
                 "and the feedback is obfuscated. A local check can always be brute-forced over four options, "
                 "so the authoritative attempt is the one course staff or CI grade with the staff key."),
        "quiz": {"id": quiz.id, "title": quiz.title, "lesson": quiz.lesson},
        "salt": salt,
        "questions": questions,
    }


def learner_copy_text(src_toml: str | Path) -> str:
    return json.dumps(learner_copy(src_toml), indent=1, ensure_ascii=False) + "\n"


def build_learner_copy(src_toml: str | Path, dest: str | Path) -> Path:
    """Write the key-less learner copy of `src_toml` to `dest` (raises QuizDataError if the source is invalid)."""
    dest = Path(dest)
    text = learner_copy_text(src_toml)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(dest)
    return dest
