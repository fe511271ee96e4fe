"""The course policy: due date, late penalties, per-learner extensions, which attempt counts.

It lives in one file that every command reading grades honours: ``policy.toml`` beside the
course marker (``vaegrade.toml``), or a ``[policy]`` table inside the marker itself::

    [policy]
    due = "2026-12-01T23:59:00+01:00"     # ISO 8601, with a timezone (Z or +hh:mm)
    attempt = "best_before_due"           # latest | best | best_before_due
    extensions = "extensions.csv"         # learner,due  (relative to this file)
    as_of = "2026-12-20T00:00:00Z"        # optional: attempts handed in later are ignored (regrades)
    hidden_visibility = "after_due_date"  # Gradescope: when learners see the hidden checks

    # late penalty, either a schedule (the largest step whose `after` is exceeded applies) ...
    late = [{after = "PT0S", penalty = 0.1}, {after = "P1D", penalty = 0.25}, {after = "P7D", penalty = 1.0}]
    # ... or a per-day percentage with a cap (a started day counts as a day):
    # late = {per_day = 0.1, max = 0.5}

A submission's time comes from where it was handed in (the archive in SUBMISSIONS or a
submitted-at CSV staff export from their LMS, Gradescope's ``submission_metadata.json``, the
CI event), never from the submission's own files. A penalty is a fraction of the score taken
off: 0.1 keeps 90%.
"""

from __future__ import annotations

import csv
import math
import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from grader.settings import COURSE_MARKER

POLICY_FILE = "policy.toml"
ATTEMPT_POLICIES = ("latest", "best", "best_before_due")
VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
DEFAULT_HIDDEN_VISIBILITY = "after_due_date"
_KEYS = {"due", "attempt", "extensions", "as_of", "late", "hidden_visibility"}


class PolicyError(ValueError):
    """The policy file is wrong; the message names the file and the key to change."""


# --- times and durations ---------------------------------------------------------------------

_DURATION = re.compile(r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
                       r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")


def parse_duration(text: str) -> timedelta:
    """An ISO 8601 duration of weeks, days, hours, minutes, seconds ("P1D", "PT12H", "P1DT6H")."""
    m = _DURATION.match(text.strip().upper()) if isinstance(text, str) else None
    if m is None or text.strip().upper() in ("P", "PT") or text.strip().upper().endswith("T"):
        raise ValueError(f"{text!r} is not an ISO 8601 duration such as P1D, PT12H or P1DT6H")
    g = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    return timedelta(weeks=g["w"], days=g["d"], hours=g["h"], minutes=g["m"], seconds=g["s"])


def parse_time(value, what: str = "time") -> datetime:
    """An ISO 8601 date and time with a timezone (a TOML datetime or a string); ValueError otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
        except ValueError:
            raise ValueError(f"{what} {value!r} is not an ISO 8601 date and time "
                             "(e.g. 2026-12-01T23:59:00+01:00)") from None
    else:
        raise ValueError(f"{what} must be an ISO 8601 date and time, not {value!r}")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} {value!r} has no timezone: add Z or an offset such as +01:00")
    return moment


def iso(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(timezone.utc).isoformat(timespec="seconds")


def describe_delta(delta: timedelta) -> str:
    """'2 d 3 h', '45 min', '10 s': how late, for people."""
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes and not days else ""]
    text = " ".join(p for p in parts if p)
    return text or f"{secs} s"


# --- the policy --------------------------------------------------------------------------------


@dataclass(frozen=True)
class LateStep:
    after: timedelta    #: applies when the submission is later than this past its due date
    penalty: float      #: fraction of the score taken off (0..1)


@dataclass(frozen=True)
class Lateness:
    """How one submission stands against its learner's due date."""

    submitted_at: datetime | None
    due: datetime | None
    late_by: timedelta          #: zero when on time (or when there is no due date or no time)
    penalty: float              #: fraction taken off
    extended: bool = False      #: the learner has an extension

    @property
    def late(self) -> bool:
        return self.late_by > timedelta(0)

    def apply(self, score: float) -> float:
        return round(score * (1.0 - self.penalty), 2)

    def describe(self) -> str:
        if self.due is None:
            return "no due date"
        if self.submitted_at is None:
            return "handed-in time unknown: no late penalty"
        due = f"due {iso(self.due)}" + (" (extension)" if self.extended else "")
        if not self.late:
            return f"on time ({due})"
        cost = f"{self.penalty:.0%} off" if self.penalty else "no penalty"
        return f"{describe_delta(self.late_by)} late ({due}): {cost}"


@dataclass(frozen=True)
class Counted:
    """The attempt that counts for a learner, and why."""

    attempt: object | None      #: the chosen record (whatever the caller passed), None when nothing counts
    lateness: Lateness | None
    reason: str
    score: float | None         #: the attempt's score after the late penalty

    @property
    def penalty(self) -> float:
        return self.lateness.penalty if self.lateness else 0.0


@dataclass(frozen=True)
class Policy:
    """One course's policy (every field optional: an empty policy is 'latest attempt, never late')."""

    due: datetime | None = None
    attempt: str = "latest"
    late: tuple[LateStep, ...] = ()
    per_day: float | None = None                 #: per started day late (with `late_max`)
    late_max: float = 1.0
    extensions: dict[str, datetime] = field(default_factory=dict)
    as_of: datetime | None = None
    hidden_visibility: str = DEFAULT_HIDDEN_VISIBILITY
    source: str = ""                             #: the file it was read from ("" for the default)

    # --- per learner -------------------------------------------------------------------
    def due_for(self, learner: str | None) -> datetime | None:
        return self.extensions.get(learner, self.due) if learner is not None else self.due

    def lateness(self, learner: str | None, submitted_at: datetime | None,
                 due: datetime | None = None) -> Lateness:
        """Lateness against `due` if given (e.g. Gradescope's own per-learner date), else the policy's."""
        extended = learner in self.extensions if learner is not None else False
        due = due if due is not None else self.due_for(learner)
        if due is None or submitted_at is None or submitted_at <= due:
            return Lateness(submitted_at, due, timedelta(0), 0.0, extended)
        late_by = submitted_at - due
        return Lateness(submitted_at, due, late_by, self.penalty_for(late_by), extended)

    def penalty_for(self, late_by: timedelta) -> float:
        if late_by <= timedelta(0):
            return 0.0
        if self.per_day is not None:
            days = math.ceil(late_by / timedelta(days=1))
            return round(min(self.late_max, self.per_day * days), 6)
        applicable = [s.penalty for s in self.late if late_by > s.after]
        return max(applicable, default=0.0)

    def describe(self) -> str:
        """One line for exports: the policy that decided which attempt counts."""
        parts = [f"attempt={self.attempt}"]
        if self.due is not None:
            parts.append(f"due={iso(self.due)}")
        if self.per_day is not None:
            parts.append(f"late={self.per_day:g}/day max {self.late_max:g}")
        elif self.late:
            parts.append("late=" + ";".join(f"{_dur(s.after)}:{s.penalty:g}" for s in self.late))
        if self.extensions:
            parts.append(f"extensions={len(self.extensions)}")
        if self.as_of is not None:
            parts.append(f"as_of={iso(self.as_of)}")
        return " ".join(parts)

    # --- which attempt counts -----------------------------------------------------------
    def choose(self, learner: str, attempts: list, *, submitted_at, score) -> Counted:
        """The attempt that counts among `attempts` (oldest first), by the attempt policy.

        `submitted_at(a)` gives an attempt's hand-in time (None: unknown, counted as on time and
        as handed in when it was graded), `score(a)` its raw score.
        """
        considered = list(attempts)
        cut = 0
        if self.as_of is not None:
            kept = [a for a in considered if submitted_at(a) is None or submitted_at(a) <= self.as_of]
            cut, considered = len(considered) - len(kept), kept
        if not considered:
            why = f"no attempt handed in by {iso(self.as_of)}" if cut else "no attempt"
            return Counted(None, None, why, None)
        scored = [(a, self.lateness(learner, submitted_at(a))) for a in considered]
        after_cut = f"; {cut} later attempt(s) after as_of ignored" if cut else ""
        if self.attempt == "latest" or len(scored) == 1:
            chosen, late = scored[-1]
            why = "the only attempt" if len(scored) == 1 else f"latest of {len(scored)} attempts"
        elif self.attempt == "best":
            chosen, late = max(reversed(scored), key=lambda p: p[1].apply(score(p[0])))
            why = f"best of {len(scored)} attempts after late penalties"
        else:  # best_before_due
            on_time = [p for p in scored if not p[1].late]
            if on_time:
                chosen, late = max(reversed(on_time), key=lambda p: p[1].apply(score(p[0])))
                why = f"best of {len(on_time)} attempts handed in by the due date"
            else:
                chosen, late = scored[-1]
                why = "no attempt by the due date: the latest late one"
        return Counted(chosen, late, f"{why}{after_cut}; {late.describe()}", late.apply(score(chosen)))


def _dur(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    days, rest = divmod(seconds, 86400)
    return f"P{days}D" + (f"T{rest}S" if rest else "") if days else f"PT{seconds}S"


# --- reading it ---------------------------------------------------------------------------------


def policy_path(course: Path | None) -> Path | None:
    """The file holding the course's policy: policy.toml, else the marker when it has a [policy] table."""
    if course is None:
        return None
    own = Path(course) / POLICY_FILE
    if own.is_file():
        return own
    marker = Path(course) / COURSE_MARKER
    try:
        if marker.is_file() and "policy" in tomllib.loads(marker.read_text(encoding="utf-8")):
            return marker
    except (tomllib.TOMLDecodeError, OSError, UnicodeDecodeError):
        return None
    return None


def load(course: Path | None) -> Policy:
    """The course's policy (the default one when it has none); PolicyError with what to fix."""
    path = policy_path(course)
    return Policy() if path is None else load_file(path)


def load_file(path: Path) -> Policy:
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise PolicyError(f"cannot read the policy {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path} is not valid TOML: {exc}") from None
    table = data.get("policy", data if path.name == POLICY_FILE else {})
    if not isinstance(table, dict):
        raise PolicyError(f"{path}: [policy] must be a table")
    return from_table(table, path)


def from_table(table: dict, path: Path) -> Policy:
    def fail(key: str, why: str) -> PolicyError:
        return PolicyError(f"{path}: policy key `{key}`: {why}")

    unknown = sorted(set(table) - _KEYS)
    if unknown:
        raise PolicyError(f"{path}: unknown policy key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})")
    try:
        due = parse_time(table["due"], "the due date") if "due" in table else None
    except ValueError as exc:
        raise fail("due", str(exc)) from None
    try:
        as_of = parse_time(table["as_of"], "as_of") if "as_of" in table else None
    except ValueError as exc:
        raise fail("as_of", str(exc)) from None
    attempt = table.get("attempt", "latest")
    if attempt not in ATTEMPT_POLICIES:
        raise fail("attempt", f"{attempt!r} is not one of {', '.join(ATTEMPT_POLICIES)}")
    if attempt == "best_before_due" and due is None:
        raise fail("attempt", "best_before_due needs a `due` date")
    visibility = table.get("hidden_visibility", DEFAULT_HIDDEN_VISIBILITY)
    if visibility not in VISIBILITIES:
        raise fail("hidden_visibility", f"{visibility!r} is not one of {', '.join(VISIBILITIES)}")
    steps, per_day, late_max = _late(table.get("late"), fail)
    if (steps or per_day is not None) and due is None:
        raise fail("late", "a late penalty needs a `due` date")
    extensions = {}
    if "extensions" in table:
        if not isinstance(table["extensions"], str):
            raise fail("extensions", "give the path of a CSV file with columns learner,due")
        try:
            extensions = read_extensions(path.parent / table["extensions"])
        except PolicyError as exc:
            raise fail("extensions", str(exc)) from None
    return Policy(due, attempt, steps, per_day, late_max, extensions, as_of, visibility, str(path))


def _fraction(value, fail, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise fail(key, f"{value!r} must be a fraction between 0 and 1 (0.1 takes 10% off)")
    return float(value)


def _late(late, fail):
    if late is None:
        return (), None, 1.0
    if isinstance(late, dict):
        extra = set(late) - {"per_day", "max"}
        if extra or "per_day" not in late:
            raise fail("late", "a per-day penalty is {per_day = 0.1, max = 0.5}")
        return (), _fraction(late["per_day"], fail, "late.per_day"), _fraction(late.get("max", 1.0), fail, "late.max")
    if not isinstance(late, list) or not late:
        raise fail("late", "give a list of {after = \"P1D\", penalty = 0.1} steps or {per_day = ..., max = ...}")
    steps = []
    for i, step in enumerate(late):
        if not isinstance(step, dict) or set(step) != {"after", "penalty"}:
            raise fail(f"late[{i}]", "each step is {after = \"P1D\", penalty = 0.1}")
        try:
            after = parse_duration(step["after"])
        except ValueError as exc:
            raise fail(f"late[{i}].after", str(exc)) from None
        steps.append(LateStep(after, _fraction(step["penalty"], fail, f"late[{i}].penalty")))
    steps.sort(key=lambda s: s.after)
    if any(a.penalty > b.penalty for a, b in zip(steps, steps[1:])):
        raise fail("late", "penalties must not decrease as lateness grows")
    return tuple(steps), None, 1.0


def read_extensions(path: Path) -> dict[str, datetime]:
    """learner -> extended due date, from a CSV with the columns learner,due."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"learner", "due"} <= set(reader.fieldnames):
                raise PolicyError(f"{path}: the extensions CSV needs the columns learner,due")
            found = {}
            for row in reader:
                learner = (row.get("learner") or "").strip()
                if not learner:
                    continue
                try:
                    due = parse_time((row.get("due") or "").strip(), f"the due date of {learner!r}")
                except ValueError as exc:
                    raise PolicyError(f"{path} line {reader.line_num}: {exc}") from None
                if learner in found:
                    raise PolicyError(f"{path} line {reader.line_num}: {learner!r} has two extensions")
                found[learner] = due
            return found
    except OSError as exc:
        raise PolicyError(f"cannot read the extensions {path}: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path} is not a readable CSV file: {exc}") from None


def read_submitted_at(path: Path) -> dict[str, datetime]:
    """learner -> hand-in time, from a CSV staff export from their LMS (columns learner,submitted_at)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            if not reader.fieldnames or not {"learner", "submitted_at"} <= set(reader.fieldnames):
                raise PolicyError(f"{path}: the submitted-at CSV needs the columns learner,submitted_at")
            found = {}
            for row in reader:
                learner = (row.get("learner") or "").strip()
                if learner:
                    try:
                        found[learner] = parse_time((row.get("submitted_at") or "").strip(),
                                                    f"the hand-in time of {learner!r}")
                    except ValueError as exc:
                        raise PolicyError(f"{path} line {reader.line_num}: {exc}") from None
            return found
    except OSError as exc:
        raise PolicyError(f"cannot read {path}: {exc.strerror}") from None
    except (csv.Error, UnicodeDecodeError) as exc:
        raise PolicyError(f"{path} is not a readable CSV file: {exc}") from None
