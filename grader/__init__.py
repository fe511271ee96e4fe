"""vae-grader: auto-graded exercises and mastery quiz for the lesson "Autoencoders and VAEs".

This package is imported by the sandbox's warm parent too, so it stays light:
nothing here imports the checks, the solutions or the quiz key.
"""

__version__ = "0.1.0"
