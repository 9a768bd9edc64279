"""ratelimit.clientip: REMOTE_ADDR unless a trusted proxy forwarded the request."""

from __future__ import annotations

import pytest

from ratelimit.clientip import client_ip


@pytest.mark.parametrize(
    ("trusted", "meta", "expected"),
    [
        ([], {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "1.1.1.1"}, "203.0.113.9"),
        (["10.0.0.0/8"], {"REMOTE_ADDR": "203.0.113.9", "HTTP_X_FORWARDED_FOR": "1.1.1.1"},
         "203.0.113.9"),
        (["10.0.0.0/8"], {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 2.2.2.2"},
         "2.2.2.2"),
        (["10.0.0.0/8"],
         {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "2.2.2.2, 10.9.9.9, 10.8.8.8"},
         "2.2.2.2"),
        (["10.0.0.0/8"], {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "10.2.2.2"},
         "10.2.2.2"),
        (["10.0.0.0/8"], {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "junk, 10.3.3.3"},
         "10.3.3.3"),
        (["10.0.0.0/8"], {"REMOTE_ADDR": "10.0.0.1"}, "10.0.0.1"),
        (["10.0.0.0/8"], {"REMOTE_ADDR": "10.0.0.1", "HTTP_X_FORWARDED_FOR": "2.2.2.2:5123"},
         "2.2.2.2"),
        ([], {"REMOTE_ADDR": "2001:db8:1:2:3:4:5:6"}, "2001:db8:1:2::/64"),
        ([], {"REMOTE_ADDR": "::ffff:192.0.2.1"}, "192.0.2.1"),
        (["::1/128"], {"REMOTE_ADDR": "::1", "HTTP_X_FORWARDED_FOR": "[2001:db8::7]:443"},
         "2001:db8::/64"),
        ([], {}, "unknown"),
    ],
)  # fmt: skip
def test_the_client_ip_is_the_first_untrusted_hop_from_the_right(settings, trusted, meta, expected):
    settings.RATELIMIT_TRUSTED_PROXIES = trusted
    assert client_ip(meta) == expected


HOPS = ["2.2.2.2", "10.9.9.9", "10.0.0.1", "192.0.2.44", "01.2.3.4", "2.2.2.2:80", " 3.3.3.3",
        "junk", "", "2001:db8::7", "::ffff:10.1.1.1", '"4.4.4.4"', "256.0.0.1",
        "0.0.0.0"]  # fmt: skip


@pytest.mark.parametrize(
    "trusted", [[], ["10.0.0.0/8"], ["10.0.0.0/8", "192.0.2.0/24"], ["::1/128", "10.0.0.0/8"]]
)
def test_the_ipv4_shortcut_answers_as_the_general_path(settings, trusted):
    """Every REMOTE_ADDR x X-Forwarded-For of up to three hops from HOPS: the shortcut either
    declines (None) or gives the general path's answer."""
    from ratelimit.clientip import _client_ip_general, _client_ipv4

    settings.RATELIMIT_TRUSTED_PROXIES = trusted
    answered = 0
    for peer in ["10.0.0.1", "203.0.113.9", "192.0.2.1", "::1", "junk"]:
        for first in HOPS:
            for second in HOPS[:6]:
                for forwarded in (None, first, f"{first}, {second}", f"9.9.9.9,{first},{second}"):
                    meta = {"REMOTE_ADDR": peer}
                    if forwarded is not None:
                        meta["HTTP_X_FORWARDED_FOR"] = forwarded
                    fast = _client_ipv4(meta)
                    if fast is not None:
                        answered += 1
                        assert fast == _client_ip_general(meta), meta
    assert answered > 300  # the shortcut does take the common cases
