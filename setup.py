"""The compiled parts of the package (everything else is declared in pyproject.toml), in C
through Cython (docs/architecture.md, "The compiled parts"):

- `schemas/_avro_write.pyx`: the Avro writer of models, datums and JSON forms;
- `schemas/_fast_check.pyx`: the event checker that validates plain data and writes its Avro;
- `databus/_avro_read.pyx`: the Avro reader into datums;
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
            "databus._avro_read",
            ["databus/_avro_read.pyx"],
            extra_compile_args=["-O2"],
        ),
        Extension(
            "schemas._avro_write",
            ["schemas/_avro_write.pyx"],
            extra_compile_args=["-O2"],
        ),
        Extension(
            "schemas._fast_check",
            ["schemas/_fast_check.pyx"],
            extra_compile_args=["-O2"],
        ),
    ]
)
