import factory

from core.base62 import random_code
from core.snowflake import next_id
from shortener.models import Link
from tests.accounts.factories import UserFactory


class LinkFactory(factory.django.DjangoModelFactory):
    """A link straight into the database (no rules, no cache invalidation): for setting up
    state. Tests of the rules go through shortener.services."""

    class Meta:
        model = Link

    id = factory.LazyFunction(next_id)
    code = factory.LazyFunction(random_code)
    long_url = factory.Sequence(lambda n: f"https://example.com/page/{n}")
    owner = factory.SubFactory(UserFactory)
