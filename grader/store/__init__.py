"""The gradebook: typed records in, typed records out, on SQLite (default) or PostgreSQL.

Every SQL statement of the grader lives in this package:
- gradebook.py  the Gradebook interface (record_*, attempts, latest_per_learner, problems, ...);
- schema.py     the tables (the same on both engines) and their forward migrations;
- engines.py    the SQLite and PostgreSQL connections and their few differences.
"""

from grader.store.engines import GradebookError, GradebookMissing, is_url
from grader.store.gradebook import SCHEMA_VERSION, AttemptRecord, Gradebook, Problem, open_gradebook

__all__ = ["AttemptRecord", "Gradebook", "GradebookError", "GradebookMissing", "Problem", "SCHEMA_VERSION",
           "is_url", "open_gradebook"]
