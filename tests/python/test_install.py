"""`make install` puts the library, the CLI and the Python package under a prefix, and the installed package
finds the installed library on its own (no PYTHONPATH into the source tree, no FRAMELAKE_LIB): it opens a
database the installed CLI wrote.

Run: /usr/bin/python3 -m pytest -q tests/python/test_install.py
"""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_make_install(tmp_path):
    prefix = tmp_path / "prefix"
    subprocess.run(["make", "-s", "-C", ROOT, "install", f"PREFIX={prefix}"], check=True, capture_output=True)
    site = prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "dist-packages"
    assert (site / "framelake" / "_libpath.txt").read_text().strip() == str(prefix / "lib" / "libframelake.so.0")
    db = tmp_path / "db"
    subprocess.run([str(prefix / "bin" / "framelake"), "ingest", "synthetic", str(db), "--n", "6", "--size", "96x64", "--quiet"], check=True)
    env = {k: v for k, v in os.environ.items() if k not in ("FRAMELAKE_LIB", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    code = ("import framelake, framelake._native as n; db = framelake.connect(%r); t = db.open_table('bdd100k'); "
            "print(n.lib._name, framelake.__file__, t.count(), t.version)" % str(db))
    out = subprocess.run(["/usr/bin/python3", "-c", code], check=True, capture_output=True, text=True, cwd=str(tmp_path), env=env).stdout.split()
    assert out == [str(prefix / "lib" / "libframelake.so.0"), str(site / "framelake" / "__init__.py"), "6", "2"]
