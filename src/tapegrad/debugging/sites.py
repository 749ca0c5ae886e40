"""Where user code called into tapegrad: the first frame outside the package."""

import os
import sys

import tapegrad

_PKG = os.path.dirname(os.path.abspath(tapegrad.__file__)) + os.sep


def user_frame(skip=1):
    """The innermost frame of code outside tapegrad (None if there is none)."""
    f = sys._getframe(skip)
    while f is not None and f.f_code.co_filename.startswith(_PKG):
        f = f.f_back
    return f


def call_site(skip=1):
    """``file:line`` of the user code that is running tapegrad now."""
    f = user_frame(skip + 1)
    if f is None:
        return "<tapegrad internals>"
    return "%s:%d" % (f.f_code.co_filename, f.f_lineno)


def short(site):
    """A site with the directory dropped (for tables)."""
    if site is None:
        return "?"
    path, _, line = site.rpartition(":")
    return "%s:%s" % (os.path.basename(path), line) if path else site
