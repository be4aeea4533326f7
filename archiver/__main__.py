"""``python -m archiver``. The CLI is imported under the guard: worker processes that
``multiprocessing`` spawns import this module again, and need none of it."""

if __name__ == "__main__":
    from archiver.cli import cli

    cli()
