"""Test worker that misbehaves as MODE says (first argument), on input "x int64", output int64:
  crash_once FILE   exits (status 3) on the first batch holding row id 5, creating FILE; later workers succeed
  crash             exits (status 3) on every batch, after a line on stderr
  chatty            writes 300000 bytes to stderr on every batch (ending "chatty: batch of N rows\n"), then
                    returns x + 1 (a host that does not drain stderr would never get the answer)
  oom_killed        SIGKILLs itself on every batch, as the kernel's OOM killer would
  hang              sleeps on every batch (the host's timeout must kill it)
  wrong_type        answers with a float64 column
  wrong_length      answers with one value less than the batch has rows
  garbage           answers with a frame of random bytes
  fail_row          raises RowError on row ids divisible by 4, else returns x + 1
  refuse            fails in setup (the handshake reports it)
  silent            exits before the handshake
"""
import os
import signal
import struct
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from framelake import udf  # noqa: E402

MODE = sys.argv[1]


class Misbehave(udf.UDF):
    name = "misbehave"
    version = 1
    inputs = "x int64"
    output_type = "int64"

    def setup(self, params):
        if MODE == "refuse":
            raise RuntimeError("the model file is missing")

    def __call__(self, batch):
        ids = list(batch.row_ids)
        if MODE == "crash_once" and 5 in ids and not os.path.exists(sys.argv[2]):
            open(sys.argv[2], "w").close()
            os._exit(3)
        if MODE == "crash":
            sys.stderr.write("Traceback (most recent call last):\nMemoryError: cannot allocate the tensor\n")
            sys.stderr.flush()
            os._exit(3)
        if MODE == "oom_killed":
            os.kill(os.getpid(), signal.SIGKILL)
        if MODE == "chatty":
            last = "chatty: batch of %d rows\n" % len(ids)
            sys.stderr.write("." * (300000 - len(last) - 1) + "\n" + last)
            sys.stderr.flush()
        if MODE == "hang":
            time.sleep(3600)
        if MODE == "fail_row":
            for i, rid in enumerate(ids):
                if rid % 4 == 0:
                    raise udf.RowError(i, "row id %d is a multiple of 4" % rid)
        return [None if v is None else v + 1 for v in batch["x"]]


def liar():
    """Speaks the handshake, then answers batches wrongly on purpose."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    inp = os.fdopen(os.dup(0), "rb")
    udf.read_frame(inp)
    udf.write_frame(out, udf.HELLO_REPLY, struct.pack("<I", 1) + udf._s("misbehave") + struct.pack("<I", 1) + udf._s("x int64")
                    + udf._s("int64") + udf._s(""))
    while True:
        frame = udf.read_frame(inp)
        if frame is None or frame[0] == udf.BYE:
            return
        seq, batch = udf.decode_batch(frame[1], [("x", udf.parse_type("int64"))])
        n = len(batch)
        if MODE == "wrong_type":
            body = udf.encode_column([1.5] * n, udf.parse_type("float64"))
        elif MODE == "wrong_length":
            body = udf.encode_column([1] * (n - 1), udf.parse_type("int64"))
        else:
            body = os.urandom(64)
        udf.write_frame(out, udf.RESULT, struct.pack("<Q", seq) + body)


if __name__ == "__main__":
    if MODE == "silent":
        sys.exit(0)
    if MODE in ("wrong_type", "wrong_length", "garbage"):
        liar()
        sys.exit(0)
    sys.exit(udf.run(Misbehave()))
