"""A stand-in analysis script: prints the sum of its arguments."""
import sys

print(f"sum={sum(int(a) for a in sys.argv[1:])}")
