"""Mastodon's client API, the subset a client needs to sign in with a token, post, follow and
read the home timeline, served under /mastodon/api/ (docs/api.md, "Mastodon clients").

A translation layer and nothing more: every read and write is timeline.services,
timeline.home and timeline.selectors, the same functions as /api/v1/ (no second
implementation). What differs is the surface, which follows Mastodon's conventions rather than
ours: Mastodon's entities (entities.py), `Authorization: Bearer` (auth.py), errors as
`{"error": "..."}` with Mastodon's statuses (errors.py), pagination by `Link` header (views.py).
The routes are timeline/mastodon_urls.py.
"""
