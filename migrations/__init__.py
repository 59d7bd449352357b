"""Alembic migrations; shipped inside the package so ``trellis migrate`` works from a wheel."""
