"""pytest fixtures shared by the integration tests."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from httpd import Httpd, MOD_MD  # noqa: E402


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)


@pytest.fixture
def httpd(request):
    """A fresh apache2 with our mod_md; its error log is printed if the test fails."""
    if not os.path.exists(MOD_MD):
        pytest.fail(f"{MOD_MD} is not built")
    servers = []

    def make(**kw):
        h = Httpd(name=request.node.name[:40].replace("/", "_"), **kw)
        servers.append(h)
        return h

    yield make
    failed = getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed
    for h in servers:
        if failed:
            sys.stderr.write(f"\n==== {h.conf_path}\n")
            try:
                sys.stderr.write(open(h.conf_path).read())
            except OSError:
                pass
            sys.stderr.write(f"\n==== {h.error_log}\n{h.log()[-20000:]}\n")
        h.cleanup(keep=failed)
