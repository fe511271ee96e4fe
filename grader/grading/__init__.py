"""One submission in, one typed result out: results, the submission proxy and scheduler, intake, the quiz engine."""
