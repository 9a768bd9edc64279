"""Top-level routes of the short links themselves, included last by config/urls.py:
`/{code}` (redirect) and `/{code}+` (preview). Owned by shortener/redirect.py."""

urlpatterns: list = []
