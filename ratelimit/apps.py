from django.apps import AppConfig


class RatelimitConfig(AppConfig):
    name = "ratelimit"

    def ready(self) -> None:
        # Parse every policy now: a bad RATELIMIT_POLICIES (or a typo in the operators'
        # RATELIMIT_POLICY_OVERRIDES) stops the process at start-up with ImproperlyConfigured
        # naming the scope, instead of answering 500 to every request that asks a limiter.
        from ratelimit.policies import all_policies

        all_policies()
