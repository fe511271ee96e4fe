"""Running untrusted submission code in separate, limited processes.

`zygote` is a warm parent (numpy and torch imported once) that forks one child
per submission; `child` is the harness inside that child; `protocol` is the
only thing both sides share: length-prefixed frames of plain data; `session`
is the trusted side's handle on a child.
"""
