"""lb-bench's exit codes, and the one exception that carries a message and a code to main()."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1  # the run could not be completed, or nothing at all succeeded
EXIT_USAGE = 2  # bad arguments (argparse's own code)
EXIT_UNREACHABLE = 3  # the target refused or did not answer before the run started
EXIT_MISSING = 4  # a peer or a client asked for by name is not installed
EXIT_PROXY = 5  # a proxy under test would not start or died during the run
EXIT_INTERRUPTED = 130


class BenchError(Exception):
    """A failure to report as one line on stderr and an exit code, never as a traceback."""

    def __init__(self, message: str, code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.code = code
