"""A stand-in user package for blueprints in the tests that name ``pkg.mod:<anything>``."""
