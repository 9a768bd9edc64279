"""System checks of the project's own (`manage.py check`), registered in core/apps.py.

`check_demo_data` runs with `check --deploy` only: every app's demo seed (`<app>/demo.py`, run
by `manage.py seed_demo`) may define `check_deploy() -> list[CheckMessage]` saying what of its
demo data must not reach a deployment (accounts: the demo accounts' public passwords). core
knows no app: it finds the modules as seed_demo does.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import import_module
from importlib.util import find_spec
from types import ModuleType
from typing import Any

from django.apps import apps
from django.core.checks import CheckMessage, Tags, register


def demo_modules() -> Iterator[ModuleType]:
    """Every installed app's `demo` module, in INSTALLED_APPS order."""
    for config in apps.get_app_configs():
        module_name = f"{config.name}.demo"
        if find_spec(module_name) is not None:
            yield import_module(module_name)


@register(Tags.security, deploy=True)
def check_demo_data(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """What each app's demo seed says must not be deployed (module docstring). Reads the
    database: `check --deploy` must run where the deployment's database answers."""
    messages: list[CheckMessage] = []
    for module in demo_modules():
        check = getattr(module, "check_deploy", None)
        if check is not None:
            messages.extend(check())
    return messages
