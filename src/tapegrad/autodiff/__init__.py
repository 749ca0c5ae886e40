"""Reverse- and forward-mode differentiation on top of the tape."""
