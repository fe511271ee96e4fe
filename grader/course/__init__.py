"""What is graded: the concept manifest and declared misconceptions, the quiz content, the course policy, the lesson's TinyVAE."""
