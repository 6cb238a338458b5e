"""MDRenewViaARI (RFC 9773): real apache2 + our mod_md + pebble behind acme_proxy.py, which
adds renewal information to pebble and records what mod_md asks and orders.

Pebble issues 5-year certificates, so MDRenewWindow never renews them here on its own:
the windows the proxy suggests decide. MDCheckInterval 1s makes the driver look every
second (and shortens the ARI defaults to it), so each test takes seconds."""
import datetime
import os
import time

import pytest
from cryptography import x509

from acme_proxy import ari_cert_id, proxy_for  # noqa: F401
from pebble import (pebble_for, md_conf, wait_staged, verify_served, read_job,  # noqa: F401
                    md_status, md_status_location)


def conf(h, pb, px, extra=""):
    return (md_conf(pb, h, "MDCheckInterval 1s\n" + extra).replace(pb.directory, px.directory)
            + md_status_location())


def served_cert(h, name):
    with open(os.path.join(h.store_dir, "domains", name, "pubcert.pem"), "rb") as f:
        return x509.load_pem_x509_certificate(f.read())


def first_cert(h, pb, name):
    """Obtain the first certificate and activate it: returns it (no ARI asked before)."""
    wait_staged(h, name)
    h.graceful()
    root = pb.write_root(os.path.join(pb.dir, "root.pem"))
    rc, out = verify_served(h, name, root)
    assert rc == 0 and "Verify return code: 0 (ok)" in out, out
    return served_cert(h, name)


def wait_for(pred, timeout=20, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        v = pred()
        if v:
            return v
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {timeout}s")


def staged(h, name):
    job = read_job(h, name)
    return bool(job and job.get("finished"))


def md_of(h, name):
    return md_status(h, name)


def rfc1123(s):
    return datetime.datetime.strptime(s, "%a, %d %b %Y %H:%M:%S GMT").replace(
        tzinfo=datetime.timezone.utc)


def md_log_lines(h, levels=("warn", "error", "crit", "alert", "emerg")):
    """mod_md's log lines above notice."""
    return [line for line in h.log().splitlines() if any(f"[md:{w}]" in line for w in levels)]


def test_window_moved_into_past_renews_early_with_replaces(httpd, pebble_for, proxy_for):
    """A future window does nothing; the CA moving it into the past (a mass revocation)
    renews at once a certificate that MDRenewWindow would keep for years, and the order
    says which certificate it replaces."""
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb)
    name = "early.mdtest.org"
    px.set_answer("window", start=10 * 86400, end=11 * 86400, retry_after=1,
                  explanation="https://ca.example/incident-42")
    h.write_conf(conf(h, pb, px) + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    cert = first_cert(h, pb, name)
    assert len(px.orders) == 1 and "replaces" not in px.orders[0], px.orders
    cid = ari_cert_id(cert)
    # the future window: asked (about this very certificate), nothing renewed
    wait_for(lambda: px.ari_ids().count(cid) >= 2, what="two ARI questions")
    assert set(px.ari_ids()) == {cid}, px.ari_ids()
    assert not staged(h, name) and len(px.orders) == 1
    st = md_of(h, name)
    assert st["cert"]["rsa"]["ari-cert-id"] == cid
    ari = st["ari"]
    assert ari["cert-id"] == cid and ari["explanation-url"] == "https://ca.example/incident-42"
    start, end = rfc1123(ari["suggested-window"]["start"]), rfc1123(ari["suggested-window"]["end"])
    now = datetime.datetime.now(datetime.timezone.utc)
    assert datetime.timedelta(days=9) < start - now < datetime.timedelta(days=11), ari
    assert end - start == datetime.timedelta(days=1), ari
    assert start <= rfc1123(ari["renew-at"]) <= end, ari
    assert st["renew-at"] == ari["renew-at"]          # the ARI moment comes before MDRenewWindow
    assert "renew" not in st and "error" not in ari
    assert rfc1123(ari["checked"]) <= rfc1123(ari["retry-after"])
    # the CA moves the window into the past: renewed now, replacing the served certificate
    px.set_answer("past", cert_id=cid, retry_after=1)
    wait_for(lambda: staged(h, name), what="the early renewal")
    assert len(px.orders) == 2, px.orders
    assert px.orders[1]["replaces"] == cid, px.orders
    assert "(MDRenewViaARI)" in h.log()
    h.graceful()
    new = served_cert(h, name)
    assert new.serial_number != cert.serial_number
    rc, out = verify_served(h, name, pb.write_root(os.path.join(pb.dir, "root.pem")))
    assert rc == 0, out
    # the new certificate is asked about next, the old one no more
    wait_for(lambda: ari_cert_id(new) in px.ari_ids(), what="a question about the new certificate")


def test_future_window_does_not_renew(httpd, pebble_for, proxy_for):
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb)
    name = "future.mdtest.org"
    px.set_answer("window", start=20 * 86400, end=22 * 86400, retry_after=1)
    h.write_conf(conf(h, pb, px) + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    cid = ari_cert_id(first_cert(h, pb, name))
    wait_for(lambda: len(px.ari_times(cid)) >= 3, what="three ARI questions")
    assert not staged(h, name) and len(px.orders) == 1
    assert read_job(h, name) is None                  # no renewal was even started
    st = md_of(h, name)
    assert "renew" not in st and st["ari"]["errors"] == 0
    assert rfc1123(st["renew-at"]) > datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=19)


def test_replaces_on_renewal_window_renewal(httpd, pebble_for, proxy_for):
    """A renewal decided by MDRenewWindow (3650d, longer than the lifetime: always due) at a CA with ARI also names the
    certificate it replaces: the id computed here from the served certificate."""
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb)
    name = "replaces.mdtest.org"
    h.write_conf(conf(h, pb, px, "MDRenewWindow 3650d\n") + f"MDomain {name}\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    cert = first_cert(h, pb, name)
    wait_for(lambda: staged(h, name), what="the renewal")
    assert len(px.orders) == 2
    assert "replaces" not in px.orders[0]
    assert px.orders[1]["replaces"] == ari_cert_id(cert), (px.orders, ari_cert_id(cert))


def test_already_replaced_orders_again_without_replaces(httpd, pebble_for, proxy_for):
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb)
    px.reject_replaces = True
    name = "replaced.mdtest.org"
    h.write_conf(conf(h, pb, px, "MDRenewWindow 3650d\n") + f"MDomain {name}\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    cid = ari_cert_id(first_cert(h, pb, name))
    job = wait_for(lambda: staged(h, name) and read_job(h, name), what="the renewal")
    assert job["errors"] == 0
    # pebble rejects a share of nonces (badNonce, 400), which the client simply retries
    attempts = [(st, o.get("replaces")) for st, o in px.order_attempts if st != 400]
    assert attempts[-2:] == [(409, cid), (201, None)], px.order_attempts


def test_ari_off_asks_nothing_and_replaces_nothing(httpd, pebble_for, proxy_for):
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb)
    name = "noari.mdtest.org"
    px.set_answer("past", retry_after=1)
    h.write_conf(conf(h, pb, px, "MDRenewWindow 3650d\n")
                 + f"<MDomain {name}>\n  MDRenewViaARI off\n</MDomain>\n"
                 + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    first_cert(h, pb, name)
    wait_for(lambda: staged(h, name), what="the renewal")
    time.sleep(1.5)
    assert px.ari_ids() == []
    assert not any(p.startswith("/renewal-info") for _, p, _ in px.requests)
    assert len(px.orders) == 2 and all("replaces" not in o for o in px.orders), px.orders
    assert "ari" not in md_of(h, name)


def test_ca_without_ari_renews_normally_and_silently(httpd, pebble_for, proxy_for):
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb, ari=False)
    name = "plainca.mdtest.org"
    px.set_answer("past")
    h.write_conf(conf(h, pb, px) + f"<MDomain {name}>\n  MDRenewWindow 3650d\n</MDomain>\n"
                 + "MDomain quiet.mdtest.org\n"
                 + h.ssl_vhost(name) + h.http_vhost(name)
                 + h.ssl_vhost("quiet.mdtest.org") + h.http_vhost("quiet.mdtest.org"))
    h.start()
    wait_staged(h, "quiet.mdtest.org")
    first_cert(h, pb, name)
    wait_for(lambda: staged(h, name), what="the renewal by MDRenewWindow")
    assert len(px.orders) == 3 and all("replaces" not in o for o in px.orders), px.orders
    # the other MD is only ARI-checked (every second): nothing to see above debug
    time.sleep(2)
    assert px.ari_ids() == []
    assert not md_log_lines(h), md_log_lines(h)
    st = md_of(h, "quiet.mdtest.org")
    assert "ari" not in st and "renew" not in st
    assert "offers no renewal information" in h.log()           # debug only
    assert not [l for l in h.log().splitlines() if "renewal information" in l and "[md:debug" not in l]


def test_retry_after_is_honoured(httpd, pebble_for, proxy_for):
    """Retry-After 3600: asked once, not again (also not after a restart); Retry-After 2:
    asked about every two seconds although the driver looks every second."""
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb)
    name = "retry.mdtest.org"
    px.set_answer("window", start=30 * 86400, end=31 * 86400, retry_after=3600)
    h.write_conf(conf(h, pb, px) + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    cid = ari_cert_id(first_cert(h, pb, name))
    wait_for(lambda: px.ari_times(cid), what="the first ARI question")
    time.sleep(3)
    assert len(px.ari_times(cid)) == 1, px.ari_times(cid)
    st = md_of(h, name)
    wait = rfc1123(st["ari"]["retry-after"]) - rfc1123(st["ari"]["checked"])
    assert 3590 <= wait.total_seconds() <= 3610, st["ari"]
    h.graceful()
    time.sleep(2.5)
    assert len(px.ari_times(cid)) == 1, px.ari_times(cid)
    # a short Retry-After (the record must expire first: set it, then restart with a
    # store whose record says "ask now")
    px.set_answer("window", start=30 * 86400, end=31 * 86400, retry_after=2)
    os.remove(os.path.join(h.store_dir, "tmp", "ari", f"{name}.json"))
    h.graceful()
    wait_for(lambda: len(px.ari_times(cid)) >= 2, what="the question after the restart")
    time.sleep(6.5)
    times = px.ari_times(cid)[1:]
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert 3 <= len(times) <= 5, times
    assert all(g >= 1.9 for g in gaps), gaps


@pytest.mark.parametrize("mode,expect", [
    ("inverted", "inverted: it ends"),
    ("malformed", "no valid JSON"),
    ("500", "the CA answered 500 to the renewal information request"),
], ids=["inverted", "malformed", "500"])
def test_bad_renewal_information(httpd, pebble_for, proxy_for, mode, expect):
    """A bad answer is explained (log once, md-status), MDRenewWindow keeps deciding, nothing
    is renewed and the CA is asked again with growing pauses, not in a storm."""
    h = httpd()
    pb = pebble_for(h)
    px = proxy_for(pb)
    name = f"bad-{mode}.mdtest.org"
    px.set_answer(mode)
    h.write_conf(conf(h, pb, px) + f"MDomain {name}\n" + h.ssl_vhost(name) + h.http_vhost(name))
    h.start()
    cert = first_cert(h, pb, name)
    cid = ari_cert_id(cert)
    wait_for(lambda: px.ari_times(cid), what="the first ARI question")
    time.sleep(6)
    times = px.ari_times(cid)
    gaps = [b - a for a, b in zip(times, times[1:])]
    assert 2 <= len(times) <= 4, times               # back-off 1, 2, 4 s: asked again, no storm
    # growing pauses; the moments are whole seconds (stored as RFC 1123 dates), so a 1 s
    # pause can take up to 2 s and a 2 s pause 3 s
    assert all(b >= a - 0.5 for a, b in zip(gaps, gaps[1:])), gaps
    assert len(gaps) < 2 or gaps[-1] >= gaps[0] * 1.4, gaps
    assert not staged(h, name) and len(px.orders) == 1
    assert read_job(h, name) is None
    st = md_of(h, name)
    assert expect in st["ari"]["error"], st["ari"]
    assert st["ari"]["errors"] >= 2 and "suggested-window" not in st["ari"]
    assert "renew" not in st
    # renew-at is MDRenewWindow's (33% of the lifetime before the end)
    utc = datetime.timezone.utc
    nb, na = cert.not_valid_before.replace(tzinfo=utc), cert.not_valid_after.replace(tzinfo=utc)
    want = na - (na - nb) * 0.33
    assert abs((rfc1123(st["renew-at"]) - want).total_seconds()) < 86400 * 2, (st["renew-at"], want)
    warnings = [l for l in h.log().splitlines() if expect in l and "[md:warn" in l]
    assert len(warnings) == 1, warnings
    assert "MDRenewWindow decides" in warnings[0]
    assert name in warnings[0]
    # the CA recovers: the window is used and the error is gone
    px.set_answer("window", start=40 * 86400, end=41 * 86400, retry_after=1)
    wait_for(lambda: "error" not in md_of(h, name)["ari"] and "suggested-window" in md_of(h, name)["ari"],
             timeout=15, what="a good answer after the bad ones")
