"""The JupyterLab server of the browser tests: Galata's settings, with our own token.

Galata's defaults switch authentication off (empty token, no XSRF check); the tests keep
both on and authenticate like `make run` does, with a token (playwright.config.js sends
it). The store is a fresh SQLite file, the notebooks a fresh directory.
"""

import os
from tempfile import mkdtemp

from jupyterlab.galata import configure_jupyter_server

configure_jupyter_server(c)  # noqa: F821 (c is the config object jupyter loads this with)

c.ServerApp.port = int(os.environ.get("UI_TESTS_PORT", "18810"))  # noqa: F821
c.IdentityProvider.token = os.environ["UI_TESTS_TOKEN"]  # noqa: F821
c.ServerApp.disable_check_xsrf = False  # noqa: F821
c.ScriptingApp.database_url = "sqlite:///" + os.path.join(  # noqa: F821
    mkdtemp(prefix="scripting-ui-tests-"), "store.sqlite"
)
c.ScriptingApp.kernel_pool_size = 1  # noqa: F821
c.ServerApp.allow_root = True  # noqa: F821 (CI runs as root)
c.Application.log_level = "ERROR"  # noqa: F821
