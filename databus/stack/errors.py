"""Errors of the local stack launcher, each with a message a user can act on."""


class StackError(RuntimeError):
    """A part of the local stack could not be prepared, started, probed or stopped."""


class MissingToolError(StackError):
    """A program the stack needs is not installed; the message says what to install."""

    def __init__(self, tool: str, install_hint: str) -> None:
        super().__init__(f"{tool} not found: {install_hint}")
        self.tool = tool
        self.install_hint = install_hint
