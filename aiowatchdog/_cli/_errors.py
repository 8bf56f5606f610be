"""The one exception a command raises for bad input: the CLI prints its
message (which names the bad value) and exits with code 2."""


class CliError(Exception):
    """Bad input to a command: exit code 2, the message on stderr."""
