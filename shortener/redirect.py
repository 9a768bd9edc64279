"""Django's views of `/{code}` and the preview `/{code}+`: they translate the redirect domain's
Outcome (shortener.visits: the state rule, the path of a visit through Redis, PostgreSQL and
back, the headers) into responses, and render the pages (404, 410, 503, the password form).
What follows is the behaviour both edges share.

State rules, in order: shortener.visits.link_state, the one rule (visit.lua applies it on the
cached copy, pinned to it by tests/shortener/test_visits.py):

    unknown code                                  404
    disabled                                      410
    expires_at <= now                             410
    max_clicks reached (the Redis gate is 0)      410   (before the password: no point asking)
    password, not yet given                       200 password page (GET/HEAD)
                wrong password POSTed             403 the same page, with an error
                right password POSTed             303 to the destination, counted
    otherwise                                     link.redirect_type (301/302/307/308), counted

Responses:

- `Location`: the destination made ASCII-safe (`iri_to_uri`; the services already store it so).
- `Cache-Control: private, max-age=90` for 301/308. A browser keeps a permanent redirect without
  freshness headers forever, and a cached redirect never reaches us again: no click counted, and
  an edit or a disable never seen. 90 s bounds both (bit.ly does similar). `no-store` for
  302/307: every visit must reach us, which is why they are the analytics default.
- `Referrer-Policy: strict-origin-when-cross-origin`. On a redirect the browser re-applies the
  policy of the redirect response to the referrer it already holds (Fetch, "main fetch"). Django's
  default (`same-origin`) would strip it and destinations would lose attribution; `unsafe-url`
  would forward a full URL to an http:// destination (downgrade) and re-widen what the linking
  page may have trimmed. This one passes on the origin, never more, never to plain http.
- After a correct password: 303 See Other, whatever the link's type: 307/308 would make the
  browser re-POST the form, password included, to the destination.

Methods: GET counts a click; HEAD answers the same without counting or using up a max-clicks
link (link checkers, previews). Any other method counts and gets the link's status: 307/308
exist to keep the method (an API client POSTing through a short link). So the view is exempt
from CSRF: it changes nothing but a counter, and a CSRF token would break exactly those
clients. For a password link, POST is the password form.

Redis down (cache.RedisUnavailable): every redirect reads PostgreSQL (one indexed SELECT) and
applies the rules in Python. Lost: the clicks and events of that time (nothing is written:
there is no synchronous database write on this path). Max-clicks links answer 503 + Retry-After
rather than redirect: their budget lives in the Redis gate, and counting in PostgreSQL meanwhile
(`UPDATE ... WHERE clicks < max_clicks`) would let the gate — still in a Redis that was only
slow or unreachable from this process — admit those clicks a second time. Exactness wins over
availability for the rare links that ask for it. A timeout never means "not done": a visit whose
script timed out may still run when a frozen Redis resumes, so its click is counted after all
and, on a max-clicks link, uses up a click whose visitor got the 503 (errs on refusing, again).
Creation keeps working: see core.snowflake (IDs until the worker-id lease deadline).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib.auth.hashers import check_password
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.shortcuts import render
from django.urls import is_valid_path
from django.views.decorators.csrf import csrf_exempt

from ratelimit.services import check_environ
from shortener import cache, clicks, visitors, visits
from shortener.models import Link
from shortener.visits import Outcome, link_state, now_ms

# --- Responses ----------------------------------------------------------------------------------


def _response(outcome: Outcome) -> HttpResponse:
    """A redirect or a refusal, as the domain built it (the fast path sends the same)."""
    return HttpResponse(outcome.body, status=outcome.status, headers=dict(outcome.headers))


_REASON = {
    "none": "unknown",
    "disabled": "disabled",
    "expired": "expired",
    "exhausted": "exhausted",
    "unavailable": "unavailable",
}


def _unavailable(request: HttpRequest, *, code: str, state: str) -> HttpResponse:
    status = visits.STATUS[state]
    response = render(
        request,
        "shortener/unavailable.html",
        {"code": code, "reason": _REASON[state]},
        status=status,
    )
    response["Cache-Control"] = "no-store"  # a link can come back (re-enabled, recreated)
    if status == 503:
        response["Retry-After"] = str(visits.RETRY_AFTER_S)
    return response


def _password_page(request: HttpRequest, *, code: str, error: str = "") -> HttpResponse:
    response = render(
        request,
        "shortener/password.html",
        {"code": code, "error": error},
        status=403 if error else 200,
    )
    response["Cache-Control"] = "no-store"
    return response


# --- Views --------------------------------------------------------------------------------------


@csrf_exempt  # see the module docstring (Methods)
def redirect_view(request: HttpRequest, code: str) -> HttpResponse:
    """`/{code}`: the domain's Outcome (shortener.visits.answer), answered."""
    method = request.method or "GET"
    outcome = visits.answer(code=code, method=method, environ=request.META)
    if outcome.state in ("ok", "refused"):
        return _response(outcome)
    if outcome.state == "password":
        if method == "POST":
            return _check_password(request, code=code)
        if method not in ("GET", "HEAD"):
            return HttpResponse(status=405, headers={"Allow": "GET, HEAD, POST"})
        return _password_page(request, code=code)
    if outcome.state == "none" and is_valid_path(f"/{code}/"):
        # Our catch-all route hides Django's APPEND_SLASH: "/shortener" must still find
        # "/shortener/" (reserved words are never codes).
        return HttpResponsePermanentRedirect(f"/{code}/")
    return _unavailable(request, code=code, state=outcome.state)


def _check_password(request: HttpRequest, *, code: str) -> HttpResponse:
    """POST of the password form: check_password (constant-time) against the row, then count
    the visit through the gate. The hash is read from PostgreSQL, never cached in Redis."""
    # Every try counts (per IP and code), before the row is read and the hash computed: those
    # are what a guesser makes us pay for. A right password first time uses 1 of the budget.
    refused = check_environ(scope="link_password", environ=request.META, path=code, force=True)
    if refused is not None:
        return _response(visits.refused(refused))
    link = cache.load_link(code=code)
    if link is None:
        return _unavailable(request, code=code, state="none")
    if link.password and not check_password(request.POST.get("password", ""), link.password):
        return _password_page(request, code=code, error="That password is not right.")
    visitor = visitors.visitor_from_environ(request.META)
    visit = visits.resolve_visit(code=code, count=True, visitor=visitor, unlocked=link)
    if visit.state == "ok":
        return _response(visits.outcome_of(visit, status=303))
    return _unavailable(request, code=code, state=visit.state)


def preview_view(request: HttpRequest, code: str) -> HttpResponse:
    """`/{code}+`: where the link goes, before going (anti-phishing). Counts nothing. Reads the
    row (the preview needs the full destination and the creation date, not in the cache). A
    password link does not show its destination: the password protects it."""
    link = cache.load_link(code=code)
    if link is None:
        return _unavailable(request, code=code, state="none")
    state = _row_state(link)
    if state != "ok":
        return _unavailable(request, code=code, state=state)
    parts = urlsplit(link.long_url)
    before, host, after = _split_at_host(link.long_url, parts.netloc, parts.hostname or "")
    response = render(
        request,
        "shortener/preview.html",
        {
            "code": code,
            "link": link,
            "protected": link.has_password,
            "url_before_host": before,
            "host": host,
            "host_unicode": _unicode_host(host),
            "url_after_host": after,
            "scheme_warning": parts.scheme != "https",
        },
    )
    response["Cache-Control"] = "no-store"
    return response


def _row_state(link: Link) -> str:
    """The state rule on the row, with the live click count for max_clicks (no gate: nothing
    is consumed), the password aside (the preview hides a protected destination itself). Redis
    down: the count is PostgreSQL's, which may lag by a flush."""
    clicks_left = None
    if link.max_clicks is not None:
        used = link.clicks + clicks.pending_clicks(link_ids=[link.id]).get(link.id, 0)
        clicks_left = link.max_clicks - used
    return link_state(
        disabled=link.disabled,
        expires_at_ms=None if link.expires_at is None else int(link.expires_at.timestamp() * 1000),
        now_ms=now_ms(),
        clicks_left=clicks_left,
        has_password=False,
    )


def _split_at_host(url: str, netloc: str, host: str) -> tuple[str, str, str]:
    """(before, host, after) of `url`, the host found inside the authority only (a path may
    repeat it); ("url", "", "") if it cannot be found."""
    start = url.find("://") + 3
    at = url.lower().find(host, start, start + len(netloc)) if host and start >= 3 else -1
    if at < 0:
        return url, "", ""
    return url[:at], url[at : at + len(host)], url[at + len(host) :]


def _unicode_host(host: str) -> str:
    """The Unicode form of an IDN host ("" if it is plain ASCII): shown next to the xn-- form,
    which is the one that cannot imitate another domain."""
    if "xn--" not in host:
        return ""
    try:
        return host.encode("ascii").decode("idna")
    except UnicodeError:
        return ""
