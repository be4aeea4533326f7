"""The ``archiver`` console script.

Spawned worker processes run the main script again (as ``__mp_main__``, under no
``__main__`` guard of ours), so the script must import next to nothing: the CLI is imported
only when the command really runs, and each extraction worker stays tens of MB smaller.
"""

from __future__ import annotations


def main() -> None:
    from archiver.cli import cli

    cli()
