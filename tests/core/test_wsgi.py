"""config.wsgi: the process gunicorn serves freezes what Django loaded out of the garbage
collector's reach (its docstring says why), after loading the URLconf and the common templates."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import gc, sys
import config.wsgi
frozen = gc.get_freeze_count()
loaded = "shortener.views" in sys.modules and "accounts.views" in sys.modules
print(frozen, loaded)
"""


def test_a_served_process_freezes_django_and_its_urlconf():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr[-2000:]
    frozen, loaded = done.stdout.split()[-2:]
    assert int(frozen) > 50_000  # Django, the apps, the URLconf: ~100k objects
    assert loaded == "True"  # the URLconf was loaded before the freeze, not on first request
