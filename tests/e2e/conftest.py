"""The e2e tests' `trellis dev` stack fixture (defined in tests/e2e/dev_stack.py, which the
security tests import too)."""

from __future__ import annotations

from tests.e2e.dev_stack import dev_stack

__all__ = ["dev_stack"]
