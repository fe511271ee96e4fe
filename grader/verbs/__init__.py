"""One keyword-only function per command, each returning an Outcome; grader/cli.py is the only click layer above."""
