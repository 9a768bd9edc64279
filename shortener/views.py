"""Browser pages of the URL shortener: create, my links, edit, delete, stats, QR codes.

Thin like the API: parse a form, call one service or selector, render. Every ApplicationError a
service raises goes back on the form field it names (never a 500). Owner-only pages answer 404 to
everyone else (selectors.owned_link): whether a code exists is nobody else's business.

Times are shown and entered in the browser's time zone: static/js/shortener.js stores it in the
`tz` cookie and `_browser_timezone` activates it for the request, so a `datetime-local` input
means what the person typing it meant.
"""

from __future__ import annotations

import functools
import hashlib
import zoneinfo
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import (
    condition,
    require_GET,
    require_http_methods,
    require_safe,
)

from core.errors import ApplicationError, InvalidInputError
from core.pagination import parse_id
from ratelimit.pages import limit_request
from shortener import qr, selectors, services
from shortener.forms import LinkCreateForm, LinkEditForm, local_input_value
from shortener.models import Link

PAGE_SIZE = 20
QR_MAX_AGE = 86_400  # a day: the image depends on SHORTENER_BASE_URL, which may change
RECENT_SESSION_KEY = "shortener:created"  # codes this browser created, newest first
RECENT_MAX = 20
STATE_TEXT = {
    "active": "Active",
    "disabled": "Disabled",
    "expired": "Expired",
    "exhausted": "Used up",
}


def _browser_timezone(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Run `view` in the time zone named by the `tz` cookie (an IANA name), if valid."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        name = request.COOKIES.get("tz", "")
        try:
            zone = zoneinfo.ZoneInfo(name) if 0 < len(name) <= 64 else None
        except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
            zone = None  # a made-up or path-like name: stay in UTC
        if zone is None:
            return view(request, *args, **kwargs)
        with timezone.override(zone):
            return view(request, *args, **kwargs)

    return wrapper


# --- create -------------------------------------------------------------------------------------


@_browser_timezone
@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    """GET: the create form, and the link just made (`?created=<code>`, shown only to the
    browser that made it). POST: create the link (anonymous allowed: it has no owner and can
    never be edited), then redirect here (POST/redirect/GET: a reload does not create twice).
    POSTs draw from the API's `link_create` budget (per user; per client IP when anonymous),
    counted before anything is written: a refused one is the 429 page and creates nothing."""
    if request.method == "POST":
        limit_request(request, scope="link_create", what="new links")
    form = LinkCreateForm(request.POST) if request.method == "POST" else LinkCreateForm()
    if form.is_bound and form.is_valid():
        try:
            link = services.create_link(
                owner=request.user if request.user.is_authenticated else None,
                request_host=request.get_host(),
                **form.service_kwargs(),
            )
        except ApplicationError as exc:
            _add_service_errors(form, exc)
        else:
            _remember_created(request, link.code)
            url = reverse("shortener:index") + "?" + urlencode({"created": link.code})
            return redirect(url)
    created = _created_link(request)
    context = {
        "form": form,
        "options_open": _options_open(form),
        "created": _link_row(request, created) if created else None,
    }
    return render(request, "shortener/index.html", context, status=400 if form.errors else 200)


def _remember_created(request: HttpRequest, code: str) -> None:
    recent = [code, *request.session.get(RECENT_SESSION_KEY, [])]
    request.session[RECENT_SESSION_KEY] = recent[:RECENT_MAX]


def _created_link(request: HttpRequest) -> Link | None:
    """The link `?created=` names, if this browser session created it: the panel says "your
    short link is ready", which would be false (and a way to dress up anyone's link) otherwise."""
    code = request.GET.get("created", "")
    if not code or code not in request.session.get(RECENT_SESSION_KEY, []):
        return None
    return selectors.link_for_code(code=code)


def _options_open(form: Form) -> bool:
    if not form.is_bound:
        return False
    return any(
        form.errors.get(name) or form.data.get(name) not in (None, "", "302")
        for name in LinkCreateForm.OPTION_FIELDS
    )


def _add_service_errors(form: Form, exc: ApplicationError) -> None:
    """The service's errors on the fields they name; the rest (or a bare message) on the form."""
    placed = False
    for field, errors in exc.fields.items():
        for error in errors if isinstance(errors, list) else [errors]:
            form.add_error(field if field in form.fields else None, str(error))
            placed = True
    if not placed:
        form.add_error(None, exc.message)


# --- my links -----------------------------------------------------------------------------------


@_browser_timezone
@login_required
@require_GET
def my_links(request: HttpRequest) -> HttpResponse:
    """The owner's links, newest first, PAGE_SIZE at a time. Paged by id (Snowflakes are
    time-ordered): `?before=<id>` is the next older page, `?after=<id>` the next newer one —
    stable while links are added, unlike OFFSET, and an index range scan whatever the page."""
    links = selectors.links_for_owner(owner=request.user)
    before, after = _int_param(request, "before"), _int_param(request, "after")
    if after is not None:
        page = list(links.filter(id__gt=after).order_by("id")[: PAGE_SIZE + 1])
        has_newer, page = len(page) > PAGE_SIZE, page[:PAGE_SIZE][::-1]
        has_older = bool(page) and links.filter(id__lt=page[-1].id).exists()
    else:
        if before is not None:
            links = links.filter(id__lt=before)
        page = list(links[: PAGE_SIZE + 1])
        has_older, page = len(page) > PAGE_SIZE, page[:PAGE_SIZE]
        has_newer = before is not None and bool(page)
        if has_newer:  # `before` may be made up: look rather than assume
            has_newer = (
                selectors.links_for_owner(owner=request.user).filter(id__gt=page[0].id).exists()
            )
    clicks = selectors.live_clicks(links=page)
    rows = [_link_row(request, link, clicks=clicks.get(link.id, link.clicks)) for link in page]
    context = {
        "rows": rows,
        "newer_url": f"?after={page[0].id}" if has_newer and page else None,
        "older_url": f"?before={page[-1].id}" if has_older and page else None,
    }
    return render(request, "shortener/my_links.html", context)


def _int_param(request: HttpRequest, name: str) -> int | None:
    """An id from the query, or None (the first page) when it is not one: a made-up page link
    is not worth an error page. Past the bigint range or not decimal digits, it never reaches
    PostgreSQL (core.pagination.parse_id)."""
    try:
        return parse_id(request.GET.get(name), name=name)
    except InvalidInputError:
        return None


def _link_row(request: HttpRequest, link: Link, *, clicks: int | None = None) -> dict[str, Any]:
    """What every page shows of a link: its short URL, live clicks, state and action URLs."""
    if clicks is None:
        clicks = selectors.live_clicks(links=[link]).get(link.id, link.clicks)
    state = selectors.link_state(link=link, clicks_so_far=clicks)
    short = selectors.short_url(code=link.code, request=request)
    owned = request.user.is_authenticated and link.owner_id == request.user.pk
    return {
        "link": link,
        "short_url": short,
        "preview_url": short + "+",
        "clicks": clicks,
        "state": state,
        "state_text": STATE_TEXT.get(state, state.capitalize()),
        "owned": owned,
        "qr_svg_url": reverse("shortener:qr_svg", args=[link.code]),
        "qr_png_url": reverse("shortener:qr_png", args=[link.code]),
        "edit_url": reverse("shortener:edit", args=[link.code]) if owned else None,
        "stats_url": reverse("shortener:stats", args=[link.code]) if owned else None,
        "delete_url": reverse("shortener:delete", args=[link.code]) if owned else None,
    }


# --- edit, delete -------------------------------------------------------------------------------


@_browser_timezone
@login_required
@require_http_methods(["GET", "POST"])
def edit(request: HttpRequest, code: str) -> HttpResponse:
    """Change a link's destination, expiry, click limit, redirect type, password, or disable
    it. The code never changes (it may be printed on a poster)."""
    link = _owned_or_404(request, code)
    initial = {
        "long_url": link.long_url,
        "expires_at": local_input_value(link.expires_at),
        "max_clicks": link.max_clicks,
        "redirect_type": link.redirect_type,
        "disabled": link.disabled,
    }
    form = LinkEditForm(request.POST or None, initial=initial)
    if form.is_bound and form.is_valid():
        try:
            services.update_link(
                link=link, request_host=request.get_host(), **form.service_kwargs()
            )
        except ApplicationError as exc:
            _add_service_errors(form, exc)
            link.refresh_from_db()  # the service may have set fields before refusing
        else:
            messages.success(request, f"Saved /{link.code}.")
            return redirect("shortener:links")
    context = {
        "form": form,
        "row": _link_row(request, link),
    }
    return render(request, "shortener/edit.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, code: str) -> HttpResponse:
    """GET: "delete /code for good?" (works without JavaScript). POST: delete, back to the list."""
    link = _owned_or_404(request, code)
    if request.method == "POST":
        services.delete_link(link=link)
        messages.success(request, f"Deleted /{code}. The code is free again.")
        return redirect("shortener:links")
    return render(request, "shortener/delete.html", {"row": _link_row(request, link)})


def _owned_or_404(request: HttpRequest, code: str) -> Link:
    try:
        return selectors.owned_link(code=code, owner=request.user)
    except ApplicationError:
        raise Http404("No such link of yours.") from None


# --- stats --------------------------------------------------------------------------------------


@_browser_timezone
@login_required
@require_GET
def stats(request: HttpRequest, code: str) -> HttpResponse:
    """Totals (live, including clicks not yet flushed from Redis), clicks per day for 30 days,
    top referrers and devices (from the flushed click events)."""
    link = _owned_or_404(request, code)
    row = _link_row(request, link)
    data = selectors.link_stats(link=link)
    devices = data.get("devices", {})
    device_total = sum(devices.values())
    context = {
        "row": row,
        "stats": data,
        "recorded": sum(day["clicks"] for day in data.get("by_day", [])),
        "referrers": _with_share(data.get("top_referrers", []), key="clicks"),
        "devices": [
            {"name": name, "clicks": count, "share": _share(count, device_total)}
            for name, count in sorted(devices.items(), key=lambda item: -item[1])
            if count
        ],
    }
    return render(request, "shortener/stats.html", context)


def _with_share(items: list[dict[str, Any]], *, key: str) -> list[dict[str, Any]]:
    top = max((item[key] for item in items), default=0)
    return [{**item, "share": _share(item[key], top)} for item in items]


def _share(part: int, whole: int) -> int:
    return round(100 * part / whole) if whole else 0


# --- QR codes -----------------------------------------------------------------------------------


def _qr_etag(request: HttpRequest, code: str, kind: str) -> str:
    """Changes when what the image encodes changes: the short URL (base URL + code)."""
    short = selectors.short_url(code=code, request=request)
    return hashlib.sha256(f"{kind}:{short}".encode()).hexdigest()[:32]


def _qr_response(request: HttpRequest, code: str, kind: str) -> HttpResponse:
    if selectors.link_for_code(code=code) is None:  # the route admits only codes anyway
        raise Http404("No such link.")
    short = selectors.short_url(code=code, request=request)
    if kind == "svg":
        body = qr.qr_svg(short, title=f"QR code for {short}")
        response = HttpResponse(body, content_type="image/svg+xml; charset=utf-8")
    else:
        response = HttpResponse(qr.qr_png(short), content_type="image/png")
    # Public: anyone with the code can draw its QR code. Not immutable: SHORTENER_BASE_URL (and
    # so the encoded URL) may change; the ETag makes a day-old copy cheap to revalidate.
    response["Cache-Control"] = f"public, max-age={QR_MAX_AGE}"
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{code}-qr.{kind}"'
    return response


@require_safe
@condition(etag_func=lambda request, code: _qr_etag(request, code, "svg"))
def qr_svg(request: HttpRequest, code: str) -> HttpResponse:
    return _qr_response(request, code, "svg")


@require_safe
@condition(etag_func=lambda request, code: _qr_etag(request, code, "png"))
def qr_png(request: HttpRequest, code: str) -> HttpResponse:
    return _qr_response(request, code, "png")
