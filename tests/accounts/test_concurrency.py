"""Concurrent registrations of one username against the real database."""

import threading

import pytest
from django.db import connection
from django.db.models.functions import Lower
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import User

THREADS = 50


@pytest.mark.django_db(transaction=True)
def test_fifty_parallel_registrations_of_one_name_in_mixed_case_make_exactly_one_account():
    # The threads use all 32 spellings of "racer" ("racer", "Racer", "rAcer", ...): the plain
    # unique index on username would let 32 of them win; lower(username) must let one.
    names = [
        "".join(c.upper() if i >> j & 1 else c for j, c in enumerate("racer")) for i in range(32)
    ]
    barrier = threading.Barrier(THREADS)
    statuses: list[int] = []
    failures: list[BaseException] = []

    def register(i: int) -> None:
        try:
            client = APIClient()
            body = {"username": names[i % len(names)], "password": "correct-horse-battery"}
            barrier.wait(timeout=30)  # all 50 requests start together
            statuses.append(client.post("/api/v1/auth/register", body, format="json").status_code)
        except BaseException as exc:  # surfaced below: a thread's exception is otherwise lost
            failures.append(exc)
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=register, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures, failures
    assert sorted(statuses) == [201] + [409] * (THREADS - 1)
    assert User.objects.annotate(lname=Lower("username")).filter(lname="racer").count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_browser_signups_of_one_name_make_one_account_and_only_form_errors():
    # Most threads pass the form's "taken?" SELECT before the winner commits, so they reach the
    # INSERT and lose to the constraint: the view must show that as a form error, not a 500.
    threads_count = 20
    barrier = threading.Barrier(threads_count)
    pages: list[tuple[int, str]] = []
    failures: list[BaseException] = []

    def sign_up(i: int) -> None:
        try:
            client = Client()
            password = "correct-horse-battery"
            body = {"username": "Racer" if i % 2 else "racer", "password1": password}
            body["password2"] = password
            barrier.wait(timeout=30)
            response = client.post("/accounts/signup/", body)
            pages.append((response.status_code, response.content.decode()))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=sign_up, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures, failures
    assert sorted(status for status, _ in pages) == [200] * (threads_count - 1) + [302]
    for status, html in pages:
        if status == 200:
            assert html.count("A user with that username already exists.") == 1
    assert User.objects.annotate(lname=Lower("username")).filter(lname="racer").count() == 1


@pytest.mark.django_db(transaction=True)
def test_parallel_registrations_of_look_alike_names_make_exactly_one_account():
    # "alice", "aIice" (capital i) and "a1ice" differ in every unique index but the skeleton's:
    # no SELECT first can make this safe (each sees none of the others); the constraint does.
    names = ["alice", "aIice", "a1ice"]
    threads_count = 30
    barrier = threading.Barrier(threads_count)
    answers: list[tuple[int, str]] = []
    failures: list[BaseException] = []

    def register(i: int) -> None:
        try:
            client = APIClient()
            body = {"username": names[i % len(names)], "password": "correct-horse-battery"}
            barrier.wait(timeout=30)
            response = client.post("/api/v1/auth/register", body, format="json")
            code = response.json().get("error", {}).get("code", "")
            answers.append((response.status_code, code))
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=register, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert not failures, failures
    assert sorted(status for status, _ in answers) == [201] + [409] * (threads_count - 1)
    winner = User.objects.get(username_skeleton="alice")
    losers = [code for _, code in answers if code]
    # The winner's own name is "taken"; the other spellings are look-alikes.
    assert losers.count("username_lookalike") == threads_count // len(names) * (len(names) - 1)
    assert User.objects.count() == 1
    assert winner.username in names
