"""Browser pages of the timeline (templates/timeline/*): home (compose box, the home timeline,
"load more", the "new tweets" notice), profiles with follow/unfollow, a tweet with its replies
and a reply box, follower lists, deleting a tweet, and the fan-out page with its JSON.

Thin like the API: parse, call one service or selector, render. Posting and following are form
POSTs (session, CSRF) drawing from the API's own budgets (`tweet_create`, `follow`), counted
before anything is written. A text the service refuses goes back on the form with its reason
(400); any other ApplicationError becomes a page a person can read (core.middleware), never a
500. static/js/timeline.js adds the live character counter, images (through POST
/api/v1/media), "load more" in place and polling the API for new tweets; the pages work
without it, images apart. docs/timeline.md, "Pages".
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from accounts.models import User
from core.errors import ApplicationError, ForbiddenError, InvalidInputError, NotFoundError
from core.pagination import parse_id
from ratelimit.pages import limit_request
from timeline import home, pages, selectors, services
from timeline.forms import MAX_MEDIA, TweetForm
from timeline.models import Tweet
from timeline.text import MAX_WEIGHTED_LENGTH

PAGE_SIZE = 20  # tweets per page, as the API's default
REPLIES_PAGE_SIZE = 50
PEOPLE_PAGE_SIZE = 50
POLL_SECONDS = 5  # the home page asks the API for new tweets this often
FANOUT_POLL_SECONDS = 2
SOURCES = {
    "feed": "your feed in Redis",
    "feed+sql": "your feed in Redis, completed from PostgreSQL below its window",
    "sql": "PostgreSQL (the pull model): Redis could not answer this read exactly",
}


# --- home ----------------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def index(request: HttpRequest) -> HttpResponse:
    """Signed in: the compose box and the home timeline (timeline.home.home_timeline), older
    pages by `?max_id=`. POST posts a tweet, then redirects here (POST/redirect/GET). Anonymous:
    what the timeline is and how to join; a POST goes to the sign-in page."""
    if not request.user.is_authenticated:
        if request.method == "POST":
            return redirect_to_login(reverse("timeline:index"))
        return render(request, "timeline/welcome.html", _welcome_context())
    form = TweetForm()
    if request.method == "POST":
        limit_request(request, scope="tweet_create", what="tweets")
        form = TweetForm(request.POST)
        tweet = _post_tweet(request, form)
        if tweet is not None:
            messages.success(request, "Your tweet is posted.")
            return redirect("timeline:index")
    max_id = _cursor(request, "max_id")
    page = home.home_timeline(reader=request.user, max_id=max_id, limit=PAGE_SIZE)
    items = _shown(page.items, request.user)
    context = {
        "form": form,
        "tweets": items,
        "older_url": _query(max_id=items[-1]["id"]) if len(items) == PAGE_SIZE else None,
        "first_page": max_id is None,
        "newest_id": items[0]["id"] if items and max_id is None else "0",
        "read": {
            "source": page.source,
            "source_text": SOURCES.get(page.source, page.source),
            "merged": page.merged,
            "rebuilt": page.rebuilt,
        },
        "profile": selectors.profile_summary(user=request.user, viewer=request.user),
        "suggestions": pages.suggested_accounts(reader=request.user),
        **_compose_context(),
    }
    return render(request, "timeline/home.html", context, status=400 if form.errors else 200)


def _welcome_context() -> dict[str, Any]:
    return {
        "suggestions": pages.suggested_accounts(reader=None),
        "threshold": pages.threshold(),
    }


def _compose_context() -> dict[str, Any]:
    return {
        "max_length": MAX_WEIGHTED_LENGTH,
        "max_media": MAX_MEDIA,
        "poll_seconds": POLL_SECONDS,
    }


def _post_tweet(
    request: HttpRequest, form: TweetForm, *, reply_to: int | None = None
) -> Tweet | None:
    """Post the form's tweet (None if refused: the reasons are on the form)."""
    if not form.is_valid():
        return None
    try:
        return services.post_tweet(
            author=request.user,
            text=form.cleaned_data["text"],
            reply_to_id=reply_to,
            media_ids=form.cleaned_data["media_ids"],
        )
    except ApplicationError as exc:
        placed = False
        for field, errors in exc.fields.items():
            for error in errors if isinstance(errors, list) else [errors]:
                form.add_error("text" if field == "text" else None, str(error))
                placed = True
        if not placed:
            form.add_error(None, exc.message)
        return None


# --- one tweet -----------------------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def tweet(request: HttpRequest, tweet_id: str) -> HttpResponse:
    """A tweet, the tweet it replies to, its replies (oldest first, `?after=<id>` for later
    ones) and, signed in, a reply box. POST posts a reply and goes to it."""
    found = _tweet_or_404(tweet_id)
    form = TweetForm()
    if request.method == "POST":
        if not request.user.is_authenticated:
            return redirect_to_login(request.path)
        limit_request(request, scope="tweet_create", what="tweets")
        form = TweetForm(request.POST)
        reply = _post_tweet(request, form, reply_to=found.id)
        if reply is not None:
            messages.success(request, "Your reply is posted.")
            url = reverse("timeline:tweet", args=[found.id])
            if selectors.replies_to(found.id).filter(id__lt=reply.id).count() >= REPLIES_PAGE_SIZE:
                url += _query(after=reply.id - 1)  # past the first page: the page that has it
            return redirect(f"{url}#tweet-{reply.id}")
    after = _cursor(request, "after")
    replies = selectors.replies_to(found.id).order_by("id")
    if after is not None:
        replies = replies.filter(id__gt=after)
    rows = list(replies[: REPLIES_PAGE_SIZE + 1])
    more = len(rows) > REPLIES_PAGE_SIZE
    shown = _shown([selectors.tweet_dict(t) for t in rows[:REPLIES_PAGE_SIZE]], request.user)
    parent = selectors.tweet_by_id(found.reply_to_id) if found.reply_to_id else None
    context = {
        "tweet": _shown([selectors.tweet_dict(found)], request.user)[0],
        "parent": _shown([selectors.tweet_dict(parent)], request.user)[0] if parent else None,
        "parent_deleted": found.reply_to_id is not None and parent is None,
        "replies": shown,
        "later_url": _query(after=shown[-1]["id"]) if more else None,
        "form": form,
        **_compose_context(),
    }
    return render(request, "timeline/tweet.html", context, status=400 if form.errors else 200)


@login_required
@require_http_methods(["GET", "POST"])
def delete(request: HttpRequest, tweet_id: str) -> HttpResponse:
    """GET: "delete this tweet?" (works without JavaScript). POST: delete it (timeline.services:
    the row at once, its removal from feeds through the outbox)."""
    found = _tweet_or_404(tweet_id)
    if found.author_id != request.user.id:
        raise ForbiddenError("Only the author can delete a tweet.")
    if request.method == "POST":
        services.delete_tweet(user=request.user, tweet_id=found.id)
        messages.success(request, "Your tweet is deleted.")
        return redirect("timeline:index")
    shown = _shown([selectors.tweet_dict(found)], request.user)[0]
    return render(request, "timeline/delete.html", {"tweet": shown})


def _tweet_or_404(raw: str) -> Tweet:
    try:
        tweet_id = parse_id(raw, name="tweet_id")
    except InvalidInputError:
        tweet_id = None
    found = selectors.tweet_by_id(tweet_id) if tweet_id is not None else None
    if found is None:
        raise NotFoundError("There is no tweet at this address: it may have been deleted.")
    return found


# --- profiles ------------------------------------------------------------------------------------


@require_safe
def profile(request: HttpRequest, username: str) -> HttpResponse:
    """A user's counts, the follow/unfollow button and their tweets, newest first (older pages
    by `?max_id=`)."""
    user = _user_or_404(username)
    max_id = _cursor(request, "max_id")
    query = selectors.tweets_by(user).order_by("-id")
    if max_id is not None:
        query = query.filter(id__lt=max_id)
    rows = list(query[: PAGE_SIZE + 1])
    shown = _shown([selectors.tweet_dict(t) for t in rows[:PAGE_SIZE]], request.user)
    context = {
        "profile": selectors.profile_summary(user=user, viewer=request.user),
        "is_me": request.user.is_authenticated and request.user.id == user.id,
        "tweets": shown,
        "older_url": _query(max_id=shown[-1]["id"]) if len(rows) > PAGE_SIZE else None,
        "first_page": max_id is None,
        "threshold": pages.threshold(),
    }
    return render(request, "timeline/profile.html", context)


@require_safe
def followers(request: HttpRequest, username: str) -> HttpResponse:
    user = _user_or_404(username)
    return _people(request, user, selectors.followers_of(user), side="follower")


@require_safe
def following(request: HttpRequest, username: str) -> HttpResponse:
    user = _user_or_404(username)
    return _people(request, user, selectors.followed_by(user), side="followee")


def _people(request: HttpRequest, user: User, edges: QuerySet, *, side: str) -> HttpResponse:
    """Followers or followed accounts, newest edge first, older ones by `?max_id=<edge id>`."""
    max_id = _cursor(request, "max_id")
    edges = edges.order_by("-id")
    if max_id is not None:
        edges = edges.filter(id__lt=max_id)
    rows = list(edges[: PEOPLE_PAGE_SIZE + 1])
    page = rows[:PEOPLE_PAGE_SIZE]
    context = {
        "profile": selectors.profile_summary(user=user, viewer=request.user),
        "side": side,
        "people": [getattr(edge, side).username for edge in page],
        "older_url": _query(max_id=page[-1].id) if len(rows) > PEOPLE_PAGE_SIZE else None,
    }
    return render(request, "timeline/people.html", context)


@require_POST
def follow(request: HttpRequest, username: str) -> HttpResponse:
    """POST `action=follow|unfollow` (idempotent, as the API's), then back to `next` or the
    profile. Draws from the `follow` budget; anonymous visitors are sent to sign in first."""
    target = reverse("timeline:profile", args=[username])
    if not request.user.is_authenticated:
        return redirect_to_login(target)
    limit_request(request, scope="follow", what="follows and unfollows")
    action = request.POST.get("action")
    if action == "follow":
        result = services.follow(follower=request.user, username=username)
        messages.success(
            request,
            f"You follow @{result.followee.username}. Their recent tweets join your home "
            "timeline in a moment (a backfill on the fan-out queue).",
        )
    elif action == "unfollow":
        result = services.unfollow(follower=request.user, username=username)
        messages.success(
            request,
            f"You no longer follow @{result.followee.username}: their tweets leave your home "
            "timeline.",
        )
    else:
        raise InvalidInputError("The button sends action=follow or action=unfollow.")
    return redirect(_safe_next(request) or target)


def _user_or_404(username: str) -> User:
    user = selectors.user_by_username(username)
    if user is None:
        raise NotFoundError(f"There is no user called {username[:150]!r}.")
    return user


# --- the fan-out page ----------------------------------------------------------------------------


@require_safe
def fanout(request: HttpRequest) -> HttpResponse:
    """What the fan-out does, live: deliveries per second, the outbox's depth, the lag of recent
    fan-outs, the celebrities, and what the reader's read merges. static/js/timeline-fanout.js
    refreshes it from `fanout_data` every FANOUT_POLL_SECONDS."""
    context = {
        "data": _fanout_data(request),
        "poll_seconds": FANOUT_POLL_SECONDS,
        "settings": _fanout_settings(),
    }
    return render(request, "timeline/fanout.html", context)


@never_cache
@require_safe
def fanout_data(request: HttpRequest) -> JsonResponse:
    """The fan-out page's figures as JSON (ids as strings)."""
    return JsonResponse(_fanout_data(request))


def _fanout_data(request: HttpRequest) -> dict[str, Any]:
    user = request.user
    return {
        "generated_at": timezone.now(),
        "threshold": pages.threshold(),
        **pages.fan_out_figures(),
        "outbox": pages.outbox_depth(),
        "celebrities": pages.celebrities(),
        "celebrity_count": pages.celebrity_count(),
        "reader": pages.read_merges(reader=user) if user.is_authenticated else None,
    }


def _fanout_settings() -> dict[str, Any]:
    return {
        "feed_size": settings.TIMELINE_FEED_SIZE,
        "chunk": settings.TIMELINE_FANOUT_CHUNK,
        "max_merged": settings.TIMELINE_MAX_MERGED_CELEBRITIES,
        "inactive_days": settings.TIMELINE_INACTIVE_DAYS,
    }


# --- helpers -------------------------------------------------------------------------------------


def _cursor(request: HttpRequest, name: str) -> int | None:
    """An id from the query string, or None. Anything else is a 400 page saying so (never a
    500: it does not reach PostgreSQL)."""
    try:
        return parse_id(request.GET.get(name), name=name)
    except InvalidInputError:
        raise InvalidInputError.for_field(
            name,
            "This page link is broken: it should carry a tweet's id (a whole number). Start "
            "again from the newest tweets.",
        ) from None


def _query(**params: object) -> str:
    return "?" + urlencode(params)


def _shown(items: list[dict], viewer) -> list[dict]:
    """Tweets (selectors.tweet_dict) with what a page shows besides: the time as a datetime and
    as Twitter says it ("just now", "5 min ago", "3 h ago", then the date), and whether the
    viewer wrote it."""
    now = timezone.now()
    viewer_id = str(viewer.id) if viewer.is_authenticated else None
    shown = []
    for item in items:
        created = datetime.fromisoformat(item["created_at"])
        shown.append(
            {
                **item,
                "created": created,
                "when": _when(now - created),
                "is_own": item["author"]["id"] == viewer_id,
            }
        )
    return shown


def _when(age: timedelta) -> str | None:
    """How long ago, for under a day; None: show the date."""
    seconds = age.total_seconds()
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86_400:
        return f"{int(seconds // 3600)} h ago"
    return None


def _safe_next(request: HttpRequest) -> str | None:
    url = request.POST.get("next", "")
    if url and url_has_allowed_host_and_scheme(
        url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return url
    return None
