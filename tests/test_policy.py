"""The course policy: one file, validated with messages that name the key; late penalties,
extensions, and which attempt counts (latest, best, best before the due date, as of a cutoff)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from grader.course import policy as policies
from grader.course.policy import PolicyError, parse_duration, parse_time

UTC = timezone.utc
DUE = datetime(2026, 12, 2, 6, 0, tzinfo=UTC)


def write(folder: Path, text: str, name: str = "policy.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vaegrade.toml").write_text('[course]\nlesson = "x"\n')
    (folder / name).write_text(text) if name != "vaegrade.toml" else \
        (folder / name).write_text('[course]\nlesson = "x"\n' + text)
    return folder


def test_no_policy_means_latest_attempt_and_never_late(tmp_path):
    policy = policies.load(write(tmp_path, "", name="none.toml"))
    assert policy.attempt == "latest" and policy.due is None
    assert policy.lateness("a", DUE + timedelta(days=9)).penalty == 0
    assert policies.load(None) == policies.Policy()


def test_a_policy_table_in_the_course_marker_is_read(tmp_path):
    policy = policies.load(write(tmp_path, '[policy]\ndue = 2026-12-02T06:00:00Z\nattempt = "best"\n',
                                 name="vaegrade.toml"))
    assert policy.due == DUE and policy.attempt == "best"   # a TOML datetime works as well as a string


@pytest.mark.parametrize("text, words", [
    ('due = "2026-12-02 06:00"', "no timezone"),
    ('due = "next tuesday"', "not an ISO 8601"),
    ('due = "2026-12-02T06:00Z"\nattempt = "first"', "`attempt`"),
    ('attempt = "best_before_due"', "needs a `due`"),
    ('late = {per_day = 0.1}', "needs a `due`"),
    ('due = "2026-12-02T06:00Z"\nlate = {per_day = 1.5}', "between 0 and 1"),
    ('due = "2026-12-02T06:00Z"\nlate = [{after = "one day", penalty = 0.1}]', "late[0].after"),
    ('due = "2026-12-02T06:00Z"\nlate = [{after = "P1D", penalty = 0.5}, {after = "P2D", penalty = 0.1}]',
     "must not decrease"),
    ('due = "2026-12-02T06:00Z"\nextensions = "missing.csv"', "cannot read the extensions"),
    ('due = "2026-12-02T06:00Z"\nhidden_visibility = "sometimes"', "hidden_visibility"),
    ('deadline = "2026-12-02T06:00Z"', "unknown policy key(s) deadline"),
])
def test_a_wrong_policy_says_which_key_to_fix(tmp_path, text, words):
    course = write(tmp_path, "[policy]\n" + text + "\n")
    with pytest.raises(PolicyError) as err:
        policies.load(course)
    assert words in str(err.value) and "policy.toml" in str(err.value)


def test_extensions_csv_rows_are_checked(tmp_path):
    course = write(tmp_path, '[policy]\ndue = "2026-12-02T06:00Z"\nextensions = "ext.csv"\n')
    (course / "ext.csv").write_text("learner,due\nbob,2026-12-05\n")
    with pytest.raises(PolicyError, match="line 2.*no timezone"):
        policies.load(course)
    (course / "ext.csv").write_text("\ufefflearner,due\nbob,2026-12-05T06:00:00+01:00\n")   # Excel's BOM is fine
    assert policies.load(course).extensions["bob"] == datetime(2026, 12, 5, 5, 0, tzinfo=UTC)


def test_durations_and_times():
    assert parse_duration("P1D") == timedelta(days=1)
    assert parse_duration("PT12H") == timedelta(hours=12)
    assert parse_duration("P1DT6H30M") == timedelta(days=1, hours=6, minutes=30)
    assert parse_duration("PT0S") == timedelta(0)
    for bad in ("P", "PT", "1D", "P1H", ""):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert parse_time("2026-12-02T06:00:00Z") == DUE
    assert parse_time("2026-12-02T07:00:00.123+01:00") == DUE + timedelta(milliseconds=123)


def test_a_schedule_applies_the_largest_step_exceeded():
    policy = policies.Policy(due=DUE, late=(policies.LateStep(timedelta(0), 0.1),
                                            policies.LateStep(timedelta(days=1), 0.25),
                                            policies.LateStep(timedelta(days=7), 1.0)))
    assert policy.lateness("a", DUE).penalty == 0                                  # exactly on time
    assert policy.lateness("a", DUE + timedelta(seconds=1)).penalty == 0.1
    assert policy.lateness("a", DUE + timedelta(days=1)).penalty == 0.1            # not *more* than a day
    assert policy.lateness("a", DUE + timedelta(days=1, seconds=1)).penalty == 0.25
    assert policy.lateness("a", DUE + timedelta(days=8)).penalty == 1.0


def test_per_day_counts_started_days_up_to_the_cap_and_extensions_move_the_due_date():
    policy = policies.Policy(due=DUE, per_day=0.1, late_max=0.3,
                             extensions={"bob": DUE + timedelta(days=3)})
    assert policy.lateness("a", DUE + timedelta(hours=1)).penalty == 0.1
    assert policy.lateness("a", DUE + timedelta(days=1, hours=1)).penalty == 0.2
    assert policy.lateness("a", DUE + timedelta(days=10)).penalty == 0.3
    bob = policy.lateness("bob", DUE + timedelta(days=2))
    assert bob.penalty == 0 and bob.extended and "extension" in bob.describe()
    assert policy.lateness("a", None).penalty == 0   # no hand-in time: never guessed from the files


@dataclass
class A:
    id: int
    score: float
    at: datetime | None


def choose(policy, attempts, learner="a"):
    return policy.choose(learner, attempts, submitted_at=lambda a: a.at, score=lambda a: a.score)


ATTEMPTS = [A(1, 50, DUE - timedelta(days=2)), A(2, 70, DUE - timedelta(hours=1)),
            A(3, 60, DUE - timedelta(minutes=5)), A(4, 80, DUE + timedelta(hours=3))]


def test_latest_best_and_best_before_due():
    late = dict(due=DUE, per_day=0.1)
    got = choose(policies.Policy(attempt="latest", **late), ATTEMPTS)
    assert got.attempt.id == 4 and got.score == 72.0 and got.penalty == 0.1 and "latest of 4" in got.reason
    got = choose(policies.Policy(attempt="best", **late), ATTEMPTS)
    assert got.attempt.id == 4 and got.score == 72.0   # 80 less 10% beats 70
    got = choose(policies.Policy(attempt="best", due=DUE, per_day=0.2), ATTEMPTS)
    assert got.attempt.id == 2 and got.score == 70.0   # 80 less 20% does not
    got = choose(policies.Policy(attempt="best_before_due", **late), ATTEMPTS)
    assert got.attempt.id == 2 and got.penalty == 0 and "by the due date" in got.reason
    only_late = [A(5, 40, DUE + timedelta(days=1, hours=1))]
    got = choose(policies.Policy(attempt="best_before_due", **late), only_late)
    assert got.attempt.id == 5 and got.score == 32.0


def test_ties_go_to_the_later_attempt_and_as_of_cuts_later_hand_ins():
    tied = [A(1, 70, DUE - timedelta(days=1)), A(2, 70, DUE - timedelta(hours=1))]
    assert choose(policies.Policy(attempt="best", due=DUE), tied).attempt.id == 2
    cut = policies.Policy(attempt="latest", due=DUE, as_of=DUE - timedelta(minutes=30))
    got = choose(cut, ATTEMPTS)
    assert got.attempt.id == 2 and "2 later attempt(s) after as_of ignored" in got.reason
    got = choose(policies.Policy(as_of=DUE - timedelta(days=9)), ATTEMPTS)
    assert got.attempt is None and got.score is None and "no attempt handed in by" in got.reason


def test_describe_names_every_rule():
    policy = policies.Policy(due=DUE, attempt="best", per_day=0.1, late_max=0.5,
                             extensions={"b": DUE}, as_of=DUE + timedelta(days=9))
    text = policy.describe()
    for words in ("attempt=best", "due=2026-12-02T06:00:00+00:00", "late=0.1/day max 0.5", "extensions=1", "as_of="):
        assert words in text
