import sys

print("\x1b]52;c;cHduZWQ=\x07\x1b[2J 10 passed \u202eevil", file=sys.stderr)
print("| injected | table |\n<script>alert(1)</script>\n=SUM(1,41)")


def reconstruction_mse(x, x_hat):
    raise RuntimeError("\ud800 lone surrogate \x1b[31mred\x1b[0m")
