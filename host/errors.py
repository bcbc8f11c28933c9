"""The one error type of host plumbing, light to import (the CLI catches it for every verb)."""


class HostError(Exception):
    """This host cannot do what was asked; the message says why. Nothing was left behind."""
