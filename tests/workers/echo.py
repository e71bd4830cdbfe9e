"""Test worker: returns its input unchanged. --param type=T declares input "x T" and output T (default
int64); --param scale=K multiplies numbers (to see parameters arrive)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from framelake import udf  # noqa: E402


class Echo(udf.UDF):
    name = "echo"
    version = 2

    def __init__(self):
        self.type = os.environ.get("ECHO_TYPE", "int64")
        self.inputs = "x " + self.type
        self.output_type = self.type
        self.scale = 1

    def setup(self, params):
        self.scale = int(params.get("scale", "1"))

    def __call__(self, batch):
        values = batch["x"]
        if self.scale != 1:
            values = [None if v is None else v * self.scale for v in values]
        return values


if __name__ == "__main__":
    sys.exit(udf.run(Echo()))
