import sys

try:
    from irkit.cli import main
except KeyboardInterrupt:  # Ctrl-C while irkit starts: one line, as later
    print("irkit: interrupted; no output was written", file=sys.stderr)
    sys.exit(130)

main()
