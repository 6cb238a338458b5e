"""MDProfile / MDProfileMandatory: ACME profiles offered in the directory's meta.profiles
(added to pebble by acme_proxy.py, which also records the profile of every newOrder)."""
import time

import pytest

from acme_proxy import proxy_for  # noqa: F401
from pebble import (pebble_for, md_conf, wait_staged,  # noqa: F401
                    md_status, md_status_location, served_ok)
from test_acme_faults import wait_job

PROFILES = {"classic": "the usual 90 days", "shortlived": "six days, IP addresses allowed"}


def start_with(h, pb, px, name, md_lines):
    h.write_conf(md_conf(pb, h).replace(pb.directory, px.directory) + md_status_location()
                 + f"<MDomain {name}>\n{md_lines}</MDomain>\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()


def test_offered_profile_is_ordered_and_shown(httpd, pebble_for, proxy_for):
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb, profiles=PROFILES)
    name = "shortlived.mdtest.org"
    start_with(h, pb, px, name, "  MDProfile shortlived\n  MDProfileMandatory on\n")
    job = wait_staged(h, name)
    assert [o.get("profile") for o in px.orders] == ["shortlived"], px.orders
    assert job["profile"] == "shortlived"
    assert any("with profile shortlived" in e.get("detail", "") for e in job["log"]["entries"])
    st = md_status(h, name)
    assert st["profile"] == "shortlived" and st["profile-mandatory"] is True
    assert st["renewal"]["cert"]["rsa"]["profile"] == "shortlived"   # the staged one
    assert "profile" not in st["cert"].get("rsa", {})                # nothing served yet
    h.graceful()
    assert served_ok(h, pb, name)
    st = md_status(h, name)
    assert st["cert"]["rsa"]["profile"] == "shortlived"              # the served one, after activation


def test_identifier_in_another_case_is_answered(httpd, pebble_for, proxy_for):
    """A CA that names the identifier of an authorization in upper case (DNS names are
    case-insensitive) gets its http-01 answer all the same (issue 13 item 8)."""
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb)
    px.upcase_identifiers = True
    name = "case.mdtest.org"
    start_with(h, pb, px, name, "  MDCAChallenges http-01\n")
    wait_staged(h, name)
    h.graceful()
    assert served_ok(h, pb, name)


def test_missing_mandatory_profile_fails_without_order(httpd, pebble_for, proxy_for):
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb, profiles=PROFILES)
    name = "mandatory.mdtest.org"
    start_with(h, pb, px, name, "  MDProfile tlsserver\n  MDProfileMandatory on\n")
    job = wait_job(h, name, lambda j: j.get("errors", 0) >= 1)
    detail = job["last"]["detail"]
    assert "MDProfile tlsserver is mandatory" in detail and px.directory in detail, detail
    assert "classic" in detail and "shortlived" in detail, detail       # what it offers
    st = md_status(h, name)
    assert "MDProfile tlsserver is mandatory" in st["renewal"]["last"]["detail"]
    assert st["renewal"]["errors"] >= 1
    assert px.order_attempts == [], px.order_attempts                  # no order at all
    assert px.new_account_path                                          # the directory was read...
    # the run fails where the reference's does: at "Creating new order" (after the account)
    assert st["renewal"]["last"]["activity"].startswith("Creating new order"), st["renewal"]["last"]
    assert "MDProfile tlsserver is mandatory" in h.log()
    assert not served_ok(h, pb, name)


@pytest.mark.parametrize("profiles", [PROFILES, None], ids=["other-profiles", "no-profiles"])
def test_missing_optional_profile_orders_default(httpd, pebble_for, proxy_for, profiles):
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb, profiles=profiles)
    name = "optional.mdtest.org"
    start_with(h, pb, px, name, "  MDProfile tlsserver\n")
    job = wait_staged(h, name)
    assert len(px.orders) == 1 and "profile" not in px.orders[0], px.orders
    notices = [e["detail"] for e in job["log"]["entries"] if e["type"] == "notice"]
    assert len(notices) == 1 and "MDProfile tlsserver is not offered" in notices[0], notices
    assert px.directory in notices[0] and "default profile" in notices[0]
    assert "profile" not in job and job["errors"] == 0
    h.graceful()
    assert served_ok(h, pb, name)
    st = md_status(h, name)
    assert st["profile"] == "tlsserver" and st["profile-mandatory"] is False
    assert "profile" not in st["cert"]["rsa"]
    assert "[md:error" not in h.log()


def test_no_profile_configured_sends_none(httpd, pebble_for, proxy_for):
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb, profiles=PROFILES)
    name = "noprofile.mdtest.org"
    start_with(h, pb, px, name, "  MDContactEmail admin@mdtest.org\n")
    job = wait_staged(h, name)
    time.sleep(0.2)
    assert len(px.orders) == 1 and "profile" not in px.orders[0], px.orders
    assert not [e for e in job["log"]["entries"] if e["type"] == "notice"]
    st = md_status(h, name)
    assert "profile" not in st
