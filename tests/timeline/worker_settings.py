"""Settings of a worker process that a timeline test starts (tests/timeline/helpers.py:
fanout_worker): the project's settings, with the test's overrides from the environment, so the
worker trims feeds to the same small window as the test process (override_settings does not
reach another process)."""

import json
import os

from config.settings import *  # noqa: F403

globals().update(json.loads(os.environ.get("TEST_SETTINGS_OVERRIDES", "{}")))
