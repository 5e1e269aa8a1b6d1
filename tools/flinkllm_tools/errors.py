"""The one error type the tools report: a single line, then a non-zero exit."""


class ToolError(Exception):
    """A problem with the user's input (file, architecture, export) worth one clear line."""
