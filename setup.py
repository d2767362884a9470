"""The compiled parts of the package (everything else is declared in pyproject.toml), in C
through Cython (docs/architecture.md, "The compiled parts"):

- `schemas/_avro_write.pyx`: the Avro writer of models, datums and JSON forms;
- `consumers/sink/_avro_json.pyx`: the sector sink's Avro-to-stored-JSON reader.

Built by `pip install -e .` (deploy/local/ensure-python.sh); it needs a C compiler and Python's
headers.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "consumers.sink._avro_json",
            ["consumers/sink/_avro_json.pyx"],
            extra_compile_args=["-O2"],
        ),
        Extension(
            "schemas._avro_write",
            ["schemas/_avro_write.pyx"],
            extra_compile_args=["-O2"],
        ),
    ]
)
