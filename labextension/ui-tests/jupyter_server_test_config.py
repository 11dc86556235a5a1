"""The JupyterLab server of the browser tests: Galata's settings, with our own token.

Galata's defaults switch authentication off (empty token, no XSRF check); the tests keep
both on and authenticate like `make run` does, with a token (playwright.config.js sends
it). The store is a fresh SQLite file (with a fresh key for its secrets), the notebooks a
fresh directory.
"""

import os
from tempfile import mkdtemp

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c is the config object jupyter loads this with)

c.ServerApp.port = int(os.environ.get("UI_TESTS_PORT", "18810"))  # noqa: F821
c.IdentityProvider.token = os.environ["UI_TESTS_TOKEN"]  # noqa: F821
c.ServerApp.disable_check_xsrf = False  # noqa: F821
STATE = mkdtemp(prefix="scripting-ui-tests-")
c.ScriptingApp.database_url = "sqlite:///" + os.path.join(STATE, "store.sqlite")  # noqa: F821
# The key of the variables' values: a fresh one, not the user's in the Jupyter data dir.
c.ScriptingApp.secret_key_file = os.path.join(STATE, "secret.key")  # noqa: F821
c.ScriptingApp.kernel_pool_size = 1  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821 (CI runs as root)
c.Application.log_level = "ERROR"  # noqa: F821
# The webhook test's URL is a closed port on this machine (its deliveries fail and are
# retried): loopback targets are refused unless allow-listed.
c.ScriptingApp.webhook_allowed_hosts = ["127.0.0.1"]  # noqa: F821
