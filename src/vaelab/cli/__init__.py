"""The ``vaelab`` command line: argparse subcommands that call the library, one module per group of
commands. No command module imports another; shared pieces live in :mod:`vaelab.cli.common`.

Bad input prints one line ``vaelab: error: ...`` and exits with status 2 (``--debug`` shows the
traceback instead); Ctrl-C during training keeps the last completed epoch and prints how to resume.
"""

from __future__ import annotations

import argparse
import os
import sys

from vaelab import distributed
from vaelab._version import __version__
from vaelab.cli import anomaly, conditional, evaluate, latent, music, plot, report, train, use
from vaelab.cli.common import EXIT_INTERRUPTED, EXIT_USAGE
from vaelab.training import NonFiniteLossError


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    parser = argparse.ArgumentParser(
        prog="vaelab", parents=[common],
        description="Autoencoders and variational autoencoders on images, tables and music: train, "
        "sample, reconstruct, encode, decode, evaluate, harmonize. Run 'vaelab COMMAND --help' for each "
        "command's options.")
    parser.add_argument("--version", action="version", version=f"vaelab {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for commands in (train, use, conditional, latent, plot, music, evaluate, anomaly, report):
        commands.add_commands(sub, common)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``vaelab`` console script; returns the exit status."""
    parser = build_parser()
    if not (sys.argv[1:] if argv is None else argv):  # bare `vaelab`: what it can do, not just an error
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    args = parser.parse_args(argv)
    try:
        if not distributed.world().main:  # a torchrun job: rank 0 speaks for all
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (for the life of the process)
        return int(args.func(args))
    except KeyboardInterrupt:  # Ctrl-C where a command has no handler of its own: one line, no traceback
        print("\ninterrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `vaelab info RUN | head`: the reader left, which is fine
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115  (stop the flush at exit from failing)
        return 0
    except (ValueError, OSError, NonFiniteLossError) as err:
        if args.debug:
            raise
        message = " ".join(str(err).split())  # always one line
        print(f"vaelab: error: {message}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
