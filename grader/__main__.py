"""`python -m grader` is the same program as the `vaegrade` console script."""

from grader.cli import main

if __name__ == "__main__":
    main()
