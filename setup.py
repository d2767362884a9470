"""The compiled part of the package (everything else is declared in pyproject.toml).

`consumers/sink/_avro_json.pyx`: the sector sink's Avro-to-stored-JSON reader, in C through
Cython (docs/architecture.md, "The compiled transcoder"). Built by `pip install -e .`
(deploy/local/ensure-python.sh); it needs a C compiler and Python's headers.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "consumers.sink._avro_json",
            ["consumers/sink/_avro_json.pyx"],
            extra_compile_args=["-O2"],
        )
    ]
)
