"""Only here to hand the cffi extension to setuptools; all metadata lives in pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["build.py:ffibuilder"])
